// Covet back office: the one place htmx requests are decorated and server events shown.
// Loaded with `defer`; no inline script anywhere (strict CSP).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Every htmx request carries the CSRF token (Flask-WTF reads X-CSRFToken).
  document.addEventListener("htmx:config:request", function (evt) {
    var method = (evt.detail.ctx.request.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      evt.detail.ctx.request.headers["X-CSRFToken"] = csrfToken();
    }
  });

  function showToast(message, level) {
    var region = document.getElementById("toasts");
    if (!region || !message) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 6000);
  }

  // Server sends HX-Trigger: {"toast": {"message": "...", "level": "success"}}.
  document.addEventListener("toast", function (evt) {
    showToast(evt.detail.message, evt.detail.level);
  });

  // 5xx is never swapped (see htmx-config noSwap); tell the user instead of failing silently.
  document.addEventListener("htmx:response:error", function (evt) {
    var status = evt.detail.ctx.response.status;
    if (status >= 500) showToast("Something went wrong on our side (" + status + "). Nothing was changed; try again.", "error");
    if (status === 429) showToast("Too many requests. Wait a moment and try again.", "error");
  });
  document.addEventListener("htmx:error", function () {
    showToast("The server could not be reached. Check your connection and try again.", "error");
  });

  // Variant table: click a row or press Enter on it to edit; Escape cancels an edit.
  function isControl(el) {
    return el.closest("input, select, textarea, button, a, label");
  }
  document.addEventListener("click", function (evt) {
    var row = evt.target.closest("tr[data-editable]");
    if (row && !isControl(evt.target)) {
      var edit = row.querySelector("a.row-edit");
      if (edit) edit.click();
    }
  });
  document.addEventListener("keydown", function (evt) {
    var row = evt.target.closest && evt.target.closest("tr");
    if (!row) return;
    if (evt.key === "Enter" && row.hasAttribute("data-editable") && evt.target === row) {
      evt.preventDefault();
      row.querySelector("a.row-edit").click();
    } else if (evt.key === "Escape" && row.classList.contains("editing")) {
      evt.preventDefault();
      var cancel = row.querySelector("a.row-cancel");
      if (cancel) cancel.click();
    }
  });
  // After an edit row is swapped in, put the cursor in its first field; after a save, back on the row.
  document.addEventListener("htmx:after:swap", function () {
    var editing = document.querySelector("tr.editing input[type=text]");
    if (editing && !editing.dataset.focused) {
      editing.dataset.focused = "1";
      editing.focus();
      editing.select();
    }
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.id === "select-all") {
      document.querySelectorAll('input[name="variant_ids"]').forEach(function (box) {
        box.checked = evt.target.checked;
      });
    }
  });

  // Arriving at a form's section (…#fulfil, or a refused form's #refund): browsers skip `autofocus` when the
  // URL has a fragment, so put the cursor in the section's first field ourselves.
  document.addEventListener("DOMContentLoaded", function () {
    var section = location.hash.length > 1 && document.getElementById(location.hash.slice(1));
    if (!section || !section.querySelector("form")) return;
    var field = section.querySelector("[aria-invalid=true], [autofocus], select, input:not([type=hidden]), textarea");
    if (field) field.focus();
  });

  // Flash messages rendered with the page fade after a while.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".flash[data-autohide]").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 8000);
    });
  });
})();
