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

  document.addEventListener("DOMContentLoaded", function () {
    var cells = document.querySelectorAll("[data-progress-url]");
    for (var i = 0; i < cells.length; i += 1) { poll(cells[i]); }
  });
})();
