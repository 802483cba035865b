// Live progress of an alert's dispatch: polls the page's JSON endpoint every two seconds
// while deliveries are queued or sending, and updates the bar and the counts in place.
(function () {
  "use strict";
  var box = document.getElementById("dispatch-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var fields = ["total", "queued", "sending", "sent", "failed", "cancelled"];

  function field(name) { return box.querySelector('[data-field="' + name + '"]'); }

  function show(data) {
    fields.forEach(function (name) {
      var cell = field(name);
      if (cell) { cell.textContent = String(data[name]); }
    });
    var bar = field("bar");
    if (bar) {
      bar.style.width = data.percent + "%";
      bar.setAttribute("aria-valuenow", String(data.percent));
      bar.textContent = data.percent + " %";
    }
    var state = field("state");
    if (state) {
      state.textContent = state.getAttribute(data.done ? "data-finished" : "data-running");
    }
  }

  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", url);
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status !== 200) { return; }  // signed out, or gone: stop quietly
      var data = JSON.parse(request.responseText);
      show(data);
      if (!data.done) { window.setTimeout(poll, 2000); }
    };
    request.send();
  }

  if (box.getAttribute("data-done") !== "true") { window.setTimeout(poll, 2000); }
})();
