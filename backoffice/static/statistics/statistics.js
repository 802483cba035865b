/* Funder reports page: follow the builds in progress (the server writes their progress to the
   database; any worker answers). No inline handler: loaded with the page's CSP nonce. */
(function () {
  "use strict";

  function poll(cell) {
    var url = cell.getAttribute("data-progress-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        var bar = cell.querySelector("progress");
        var step = cell.querySelector(".progress-step");
        if (bar) { bar.value = data.progress; bar.textContent = data.progress + " %"; }
        if (step) { step.textContent = data.step + " (" + data.progress + " %)"; }
        if (data.done) {
          window.location.reload();
        } else {
          window.setTimeout(function () { poll(cell); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(cell); }, 4000); });
  }

  // Dashboard: the section shown (the address's anchor, else the first) is the current tab.
  function markCurrentSection() {
    var links = document.querySelectorAll(".stat-tabs a");
    if (!links.length) { return; }
    var target = window.location.hash && document.querySelector(".stat-sections " + window.location.hash);
    var current = target ? "#" + target.id : links[0].getAttribute("href");
    for (var i = 0; i < links.length; i += 1) {
      if (links[i].getAttribute("href") === current) {
        links[i].setAttribute("aria-current", "true");
      } else {
        links[i].removeAttribute("aria-current");
      }
    }
  }

  // A table shown on demand (details opened, another section) may scroll only now: the
  // theme gives scrolling regions their tab stop when the window resizes.
  function recheckScrolling() { window.dispatchEvent(new Event("resize")); }

  window.addEventListener("hashchange", function () { markCurrentSection(); recheckScrolling(); });
  document.addEventListener("toggle", recheckScrolling, true);

  document.addEventListener("DOMContentLoaded", function () {
    markCurrentSection();
    var cells = document.querySelectorAll("[data-progress-url]");
    for (var i = 0; i < cells.length; i += 1) { poll(cells[i]); }
  });
})();
