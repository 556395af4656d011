// Product images: drag-and-drop upload straight to storage (presigned PUT), a progress bar per file,
// and drag-and-drop reordering with SortableJS. Without JavaScript the same forms post to the server.
// Loaded with `defer` by templates/media/_panel.html; no inline script or style anywhere (strict CSP).
(function () {
  "use strict";
  if (window.covetMedia) return; // the panel may be swapped in again with its script tags
  window.covetMedia = true;

  var TYPES = ["image/jpeg", "image/png", "image/webp", "image/avif"];
  var MAX_BYTES = 20 * 1024 * 1024;
  var PARALLEL = 3;
  var waiting = [];
  var running = 0;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function postJSON(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(data),
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken()}
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401 || response.redirected) { // an expired session is sent to the login page
          throw new Error("Your session has ended. Sign in again, then retry.");
        }
        if (response.ok) return body;
        throw new Error(body.error || "The server answered " + response.status + ". Try again.");
      });
    });
  }

  function putFile(upload, file, progress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(upload.method, upload.url);
      Object.keys(upload.headers || {}).forEach(function (name) { xhr.setRequestHeader(name, upload.headers[name]); });
      xhr.upload.onprogress = function (evt) {
        if (evt.lengthComputable) progress.value = Math.round((evt.loaded / evt.total) * 100);
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) { progress.value = 100; resolve(); }
        else reject(new Error("Storage refused the upload (" + xhr.status + "). Try again."));
      };
      xhr.onerror = function () { reject(new Error("The upload could not reach storage. Check your connection.")); };
      xhr.send(file);
    });
  }

  // Some systems give .avif or .webp files no type: go by the extension then (the worker checks the bytes).
  function typeOf(file) {
    var extension = file.name.split(".").pop().toLowerCase();
    var byExtension = {jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", avif: "image/avif"};
    return file.type || byExtension[extension] || "";
  }

  function problemWith(file) {
    if (TYPES.indexOf(typeOf(file)) === -1) return file.name + ": only JPEG, PNG, WebP and AVIF images can be uploaded.";
    if (file.size > MAX_BYTES) {
      return file.name + " is " + (file.size / 1048576).toFixed(1) + " MB; images must be 20 MB or smaller.";
    }
    return null;
  }

  function progressRow(form, file) {
    var row = document.createElement("li");
    row.className = "media-upload";
    var name = document.createElement("span");
    name.className = "media-upload-name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    var status = document.createElement("span");
    status.className = "media-upload-status";
    status.setAttribute("role", "status");
    row.append(name, bar, status);
    form.querySelector(".media-uploads").appendChild(row);
    return {row: row, bar: bar, status: status};
  }

  // Add the new image's entry to the list (it polls its own status from then on). One fetch per file:
  // htmx.ajax calls from one source element would be synchronised, and all but one dropped.
  function showItem(form, url) {
    var list = document.querySelector(form.dataset.list);
    if (!list) return Promise.resolve();
    var headers = {"HX-Request": "true", "HX-Request-Type": "partial", "Accept": "text/html"};
    return fetch(url, {credentials: "same-origin", headers: headers}).then(function (response) {
      if (!response.ok) throw new Error("Uploaded; reload the page to see it.");
      return response.text();
    }).then(function (html) {
      var holder = document.createElement("template");
      holder.innerHTML = html.trim();
      var item = holder.content.firstElementChild;
      if (!item) return;
      list.querySelectorAll(".media-empty").forEach(function (el) { el.remove(); });
      var existing = document.getElementById(item.id);
      var position = Number(item.dataset.position);
      var after = Array.prototype.find.call(list.querySelectorAll(".media-item"), function (el) {
        return Number(el.dataset.position) > position;
      });
      if (existing) existing.replaceWith(item);
      else list.insertBefore(item, after || null); // files finish in any order; keep the saved order
      if (window.htmx) htmx.process(item);
    });
  }

  function uploadOne(form, file, ui) {
    var problem = problemWith(file);
    if (problem) return Promise.reject(new Error(problem));
    ui.status.textContent = "Preparing…";
    var body = {filename: file.name, content_type: typeOf(file), size: file.size};
    return postJSON(form.dataset.presignUrl, body).then(function (presigned) {
      ui.status.textContent = "Uploading…";
      return putFile(presigned.upload, file, ui.bar).then(function () { return presigned; });
    }).then(function (presigned) {
      ui.status.textContent = "Checking…";
      return postJSON(presigned.confirm_url, {});
    }).then(function (confirmed) {
      return showItem(form, confirmed.item_url);
    }).then(function () { ui.row.remove(); });
  }

  function pump() {
    while (running < PARALLEL && waiting.length) {
      running += 1;
      start(waiting.shift());
    }
  }

  function start(task) {
    uploadOne(task.form, task.file, task.ui).catch(function (error) {
      task.ui.row.classList.add("is-error");
      task.ui.status.textContent = error.message;
    }).then(function () { running -= 1; pump(); });
  }

  function uploadFiles(form, files) {
    Array.prototype.forEach.call(files, function (file) {
      waiting.push({form: form, file: file, ui: progressRow(form, file)});
    });
    pump();
  }

  function dropzoneOf(evt) {
    return evt.target.closest ? evt.target.closest("form[data-presign-url]") : null;
  }

  document.addEventListener("change", function (evt) {
    var form = dropzoneOf(evt);
    if (!form || evt.target.type !== "file" || !evt.target.files.length) return;
    uploadFiles(form, evt.target.files);
    evt.target.value = "";
  });
  document.addEventListener("submit", function (evt) {
    var form = dropzoneOf(evt);
    if (!form) return;
    evt.preventDefault(); // with JavaScript, files go straight to storage instead
    var input = form.querySelector('input[type="file"]');
    if (input.files.length) { uploadFiles(form, input.files); input.value = ""; }
  });
  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      var form = dropzoneOf(evt);
      if (!form) return;
      evt.preventDefault();
      form.classList.add("is-dragover");
    });
  });
  document.addEventListener("dragleave", function (evt) {
    var form = dropzoneOf(evt);
    if (form && !form.contains(evt.relatedTarget)) form.classList.remove("is-dragover");
  });
  document.addEventListener("drop", function (evt) {
    var form = dropzoneOf(evt);
    if (!form) return;
    evt.preventDefault();
    form.classList.remove("is-dragover");
    if (evt.dataTransfer && evt.dataTransfer.files.length) uploadFiles(form, evt.dataTransfer.files);
  });

  function enhance() {
    document.querySelectorAll(".media-upload-submit").forEach(function (button) { button.hidden = true; });
    if (!window.Sortable) return;
    document.querySelectorAll("[data-media-sortable]").forEach(function (list) {
      if (list.dataset.sortableReady) return;
      list.dataset.sortableReady = "1";
      Sortable.create(list, {
        handle: ".media-handle", draggable: ".media-item", animation: 150,
        onEnd: function (evt) {
          var form = document.getElementById(list.dataset.orderForm);
          if (form && evt.oldIndex !== evt.newIndex) form.requestSubmit();
        }
      });
    });
  }

  // SortableJS leaves style="" on the items it animated, and htmx's settle step copies an old element's style
  // attribute onto its same-id replacement with setAttribute, which the strict CSP refuses: clear them first.
  document.addEventListener("htmx:before:swap", function () {
    document.querySelectorAll(".media-list [style], .media-list[style]").forEach(function (el) {
      el.removeAttribute("style");
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhance);
  else enhance();
  document.addEventListener("htmx:after:settle", enhance);
  window.addEventListener("load", enhance); // Sortable (deferred too) is certainly there by now
})();
