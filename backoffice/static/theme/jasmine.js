// Wide tables scroll inside their own region, never the page: each table is wrapped in a
// .table-scroll box (theme/jasmine.css). A box that does scroll gets a tab stop, so keyboard
// users can scroll it too (axe-core's "scrollable-region-focusable").
(function () {
  function wrapTables() {
    document.querySelectorAll("main table").forEach(function (table) {
      var parent = table.parentElement;
      if (parent.classList.contains("table-scroll") || parent.classList.contains("table-responsive")) {
        parent.classList.add("table-scroll");
        return;
      }
      var box = document.createElement("div");
      box.className = "table-scroll";
      parent.insertBefore(box, table);
      box.appendChild(table);
    });
  }
  function markScrollable() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-region", "");
      } else if (!scrolls && box.hasAttribute("data-scroll-region")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-region");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    wrapTables();
    markScrollable();
  });
  window.addEventListener("resize", markScrollable);
})();
