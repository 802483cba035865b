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

// FAB's select2 boxes: the search field of a multiple choice gets the name of its field, and
// the "clear" cross select2 puts straight inside its list becomes a list item (axe-core's
// "label" and "list" rules). Select2 redraws its list on every change: done again then.
(function () {
  function nameOf(select) {
    var label = select.id && document.querySelector('label[for="' + select.id + '"]');
    return (label ? label.textContent : select.getAttribute("aria-label") || "").trim();
  }
  function mend(container, name) {
    container.querySelectorAll(".select2-search__field").forEach(function (field) {
      if (name && !field.hasAttribute("aria-label")) field.setAttribute("aria-label", name);
    });
    container.querySelectorAll("ul.select2-selection__rendered > :not(li)").forEach(function (stray) {
      var item = document.createElement("li");
      item.className = "select2-stray-item";
      stray.parentNode.insertBefore(item, stray);
      item.appendChild(stray);
    });
  }
  function mendAll() {
    document.querySelectorAll("select").forEach(function (select) {
      var container = select.nextElementSibling;
      if (!container || !container.classList.contains("select2-container")) return;
      var name = nameOf(select);
      mend(container, name);
      if (!container.hasAttribute("data-mended")) {
        container.setAttribute("data-mended", "");
        new MutationObserver(function () { mend(container, name); })
          .observe(container, { childList: true, subtree: true });
      }
    });
  }
  if (window.jQuery) {
    window.jQuery(function () { setTimeout(mendAll, 0); });
  } else {
    document.addEventListener("DOMContentLoaded", mendAll);
  }
})();

// FAB's select2 boxes speak the page's language: select2's own French texts (vendored i18n,
// e.g. "Supprimer tous les éléments") and, instead of ab.js's English placeholders ("Select a
// State", "Select"), the page's word for "Choose…" (data-choose on <html>, through Babel).
// Registered before ab.js's ready handler, so it runs first.
(function () {
  if (!window.jQuery) return;
  var ENGLISH_PLACEHOLDERS = ["Select a State", "Select"];
  window.jQuery(function ($) {
    if (!$.fn.select2) return;
    var root = document.documentElement;
    if (root.lang === "fr") $.fn.select2.defaults.set("language", "fr");
    var choose = root.getAttribute("data-choose") || "";
    var original = $.fn.select2;
    $.fn.select2 = function (options) {
      if (options && typeof options === "object" && ENGLISH_PLACEHOLDERS.indexOf(options.placeholder) >= 0) {
        options = $.extend({}, options, { placeholder: choose });
      }
      return original.apply(this, arguments.length ? [options].concat([].slice.call(arguments, 1)) : []);
    };
    $.extend($.fn.select2, original);
  });
})();
