// Dispute screens: live deadlines ("2 d 4 h left", red under 24 h) and character counters against Stripe's limits.
// Loaded with `defer`; works on pages swapped in by htmx too. Without JavaScript the server's text stands.
(function () {
  "use strict";

  function words(ms) {
    if (ms <= 0) return "past due";
    var minutes = Math.floor(ms / 60000), days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) return days + " d " + hours + " h left";
    if (hours) return hours + " h " + mins + " min left";
    return Math.max(mins, 1) + " min left";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("datetime")) - now;
      el.textContent = words(left);
      el.classList.toggle("countdown-bad", left < 24 * 3600000);
      el.classList.toggle("countdown-warn", left >= 24 * 3600000 && left < 72 * 3600000);
    });
  }

  function fmt(n) { return n.toLocaleString("en"); }

  function count(form) {
    var total = 0;
    form.querySelectorAll("textarea[data-limit]").forEach(function (area) {
      var n = area.value.trim().length, limit = parseInt(area.dataset.limit, 10);
      total += n;
      var counter = form.querySelector('[data-counter-for="' + area.id + '"]');
      if (counter) {
        counter.textContent = fmt(n) + " / " + fmt(limit);
        counter.classList.toggle("over", n > limit);
      }
    });
    var sum = document.getElementById("evidence-total");
    if (sum) {
      var cap = parseInt(form.dataset.totalLimit, 10);
      sum.textContent = fmt(total) + " / " + fmt(cap);
      sum.classList.toggle("over", total > cap);
    }
  }

  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("#evidence-form");
    if (form) count(form);
  });

  // A dispute row opens its dispute when clicked anywhere (the link stays the keyboard path).
  document.addEventListener("click", function (evt) {
    var row = evt.target.closest && evt.target.closest("#dispute-rows tr[data-href]");
    if (row && !evt.target.closest("a, button, input, select")) window.location = row.dataset.href;
  });

  tick();
  setInterval(tick, 60000);
  document.addEventListener("htmx:after:swap", tick);
})();
