/* Moderation pages: editing the redaction of a narrative (no inline handlers: CSP). */
(function () {
  "use strict";

  var narrative = document.getElementById("narrative");
  var field = document.getElementById("redaction-spans-field");
  var data = document.getElementById("redaction-spans");
  if (!narrative || !field || !data) {
    return;
  }
  var tools = document.querySelector(".redaction-tools");
  var typeSelect = document.getElementById("redaction-type");
  var preview = document.getElementById("redacted-preview");
  var text = narrative.textContent;
  var spans = JSON.parse(data.textContent || "[]");
  var placeholders = {};
  Array.prototype.forEach.call(typeSelect.options, function (option) {
    placeholders[option.value] = option.text;
  });
  tools.hidden = false;

  function merged() {
    // Overlapping spans become their union, as the server does.
    var ordered = spans.slice().sort(function (a, b) {
      return a.start - b.start || b.end - a.end;
    });
    var out = [];
    ordered.forEach(function (span) {
      var last = out[out.length - 1];
      if (last && span.start < last.end) {
        last.end = Math.max(last.end, span.end);
      } else {
        out.push({ start: span.start, end: span.end, type: span.type });
      }
    });
    return out;
  }

  function piece(start, end, type) {
    var node = document.createElement(type ? "mark" : "span");
    node.textContent = text.slice(start, end);
    node.setAttribute("data-start", String(start));
    if (type) {
      node.className = "redaction";
      node.setAttribute("data-end", String(end));
      node.setAttribute("data-type", type);
      node.setAttribute("tabindex", "0");
      node.setAttribute("role", "button");
      node.title = (placeholders[type] || type) + " — " + tools.getAttribute("data-remove-hint");
    } else {
      node.className = "plain";
    }
    return node;
  }

  function render() {
    var spansNow = merged();
    var cursor = 0;
    var redacted = "";
    narrative.textContent = "";
    spansNow.forEach(function (span) {
      if (span.start > cursor) {
        narrative.appendChild(piece(cursor, span.start, null));
        redacted += text.slice(cursor, span.start);
      }
      narrative.appendChild(piece(span.start, span.end, span.type));
      redacted += placeholders[span.type] || "[…]";
      cursor = span.end;
    });
    if (cursor < text.length) {
      narrative.appendChild(piece(cursor, text.length, null));
      redacted += text.slice(cursor);
    }
    field.value = JSON.stringify(spansNow);
    if (preview) {
      preview.textContent = redacted;
    }
  }

  function offsetOf(node, offset) {
    if (node === narrative) {
      var child = narrative.childNodes[offset];
      return child ? parseInt(child.getAttribute("data-start"), 10) : text.length;
    }
    var element = node.nodeType === Node.TEXT_NODE ? node.parentNode : node;
    while (element && element.parentNode !== narrative) {
      element = element.parentNode;
    }
    if (!element) {
      return null;
    }
    return parseInt(element.getAttribute("data-start"), 10) + offset;
  }

  document.getElementById("redaction-add").addEventListener("click", function () {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0) {
      return;
    }
    var range = selection.getRangeAt(0);
    if (!narrative.contains(range.startContainer) || !narrative.contains(range.endContainer)) {
      return;
    }
    var start = offsetOf(range.startContainer, range.startOffset);
    var end = offsetOf(range.endContainer, range.endOffset);
    if (start === null || end === null) {
      return;
    }
    while (start < end && /\s/.test(text.charAt(start))) {
      start += 1;
    }
    while (end > start && /\s/.test(text.charAt(end - 1))) {
      end -= 1;
    }
    if (end > start) {
      spans.push({ start: start, end: end, type: typeSelect.value });
      selection.removeAllRanges();
      render();
    }
  });

  function removeAt(mark) {
    var start = parseInt(mark.getAttribute("data-start"), 10);
    var end = parseInt(mark.getAttribute("data-end"), 10);
    spans = spans.filter(function (span) {
      return span.end <= start || span.start >= end;
    });
    render();
  }

  narrative.addEventListener("click", function (event) {
    var mark = event.target.closest("mark.redaction");
    if (mark) {
      removeAt(mark);
    }
  });
  narrative.addEventListener("keydown", function (event) {
    var mark = event.target.closest("mark.redaction");
    if (mark && (event.key === "Enter" || event.key === "Delete" || event.key === "Backspace")) {
      event.preventDefault();
      removeAt(mark);
    }
  });

  render();
})();
