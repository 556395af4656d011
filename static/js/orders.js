// Order queue keyboard triage: j/k move, Enter opens, a assigns to me, f starts fulfilment, x ticks,
// / focuses search, t takes the next order. Inert while typing in a field. Loaded with `defer`.
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#order-rows > tr[id^='order-row-']"));
  }
  function current() {
    return document.querySelector("#order-rows > tr.is-current");
  }
  function select(row, keepFocus) {
    var previous = current();
    if (previous) { previous.classList.remove("is-current"); previous.removeAttribute("aria-selected"); }
    if (!row) return;
    row.classList.add("is-current");
    row.setAttribute("aria-selected", "true");
    // Never take the focus from a field the user is typing in (the list refreshes as they type).
    if (!keepFocus) row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var list = rows();
    if (!list.length) return;
    var index = list.indexOf(current());
    var next = index < 0 ? 0 : Math.min(Math.max(index + step, 0), list.length - 1);
    select(list[next]);
  }
  function typing(target) {
    if (!target || !target.closest) return false;
    return target.isContentEditable || !!target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.defaultPrevented || evt.ctrlKey || evt.metaKey || evt.altKey || !document.getElementById("order-rows")) return;
    if (typing(evt.target)) {
      if (evt.key === "Escape") {
        evt.preventDefault();  // a search box would otherwise clear itself
        evt.target.blur();
      }
      return;
    }
    var row = current();
    switch (evt.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "/":
        var search = document.getElementById("order-search");
        if (search) { search.focus(); search.select(); }
        break;
      case "Enter":
        if (!row) return;
        window.location.assign(row.dataset.href);
        break;
      case "f":
        if (!row) return;
        window.location.assign(row.dataset.href + "#fulfil");
        break;
      case "a":
        var assign = row && row.querySelector("button[data-assign-me]");
        if (!assign) return;
        assign.click();
        break;
      case "x":
        var box = row && row.querySelector("input[name='order_ids']");
        if (!box) return;
        box.checked = !box.checked;
        break;
      case "t":
        var take = document.getElementById("take-next");
        if (!take) return;
        take.click();
        break;
      default: return;
    }
    evt.preventDefault();
  });

  // Clicking a row (not one of its controls) makes it the current one.
  document.addEventListener("click", function (evt) {
    var row = evt.target.closest && evt.target.closest("#order-rows > tr[id^='order-row-']");
    if (row && !evt.target.closest("a, button, input, label, select")) select(row);
  });

  // A row re-rendered after an action (same id) stays current; so does the list after paging.
  var remembered = null;
  document.addEventListener("htmx:before:swap", function () {
    var row = current();
    remembered = row ? row.id : null;
  });
  document.addEventListener("htmx:after:swap", function () {
    if (!remembered) return;
    var again = document.getElementById(remembered);
    if (again && !again.classList.contains("is-current")) select(again, typing(document.activeElement));
  });

  document.addEventListener("change", function (evt) {
    if (evt.target.id === "select-all-orders") {
      rows().forEach(function (row) {
        var box = row.querySelector("input[name='order_ids']");
        if (box) box.checked = evt.target.checked;
      });
    }
  });
})();
