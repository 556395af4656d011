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

  // Flash messages rendered with the page fade after a while.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".flash[data-autohide]").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 8000);
    });
  });
})();
