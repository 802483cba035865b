/* Outreach rounds: copy buttons, SMS counter, confirmations, template picker.
 * Loaded as an external file (CSP: script-src 'self' + nonce); no inline handlers.
 * The SMS rules mirror backoffice/services/sms_encoding.py (GSM 03.38 vs UCS-2). */
(function () {
  "use strict";

  var GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "\f^{}\\[~]|€";
  var SINGLE_LIMIT = { "GSM-7": 160, "UCS-2": 70 };
  var PART_LIMIT = { "GSM-7": 153, "UCS-2": 67 };

  function isGsm7(text) {
    for (var ch of text) {
      if (GSM7_BASIC.indexOf(ch) < 0 && GSM7_EXTENSION.indexOf(ch) < 0) { return false; }
    }
    return true;
  }

  function weight(ch, encoding) {
    if (encoding === "GSM-7") { return GSM7_EXTENSION.indexOf(ch) >= 0 ? 2 : 1; }
    return ch.codePointAt(0) > 0xFFFF ? 2 : 1;
  }

  /* [encoding, segments, characters counted], as sms_parts() in Python. */
  function smsParts(text) {
    var encoding = isGsm7(text) ? "GSM-7" : "UCS-2";
    var count = 0;
    var ch;
    for (ch of text) { count += weight(ch, encoding); }
    if (count === 0) { return [encoding, 0, 0]; }
    if (count <= SINGLE_LIMIT[encoding]) { return [encoding, 1, count]; }
    var parts = 1;
    var used = 0;
    for (ch of text) {
      var cost = weight(ch, encoding);
      if (used + cost > PART_LIMIT[encoding]) { parts += 1; used = 0; }
      used += cost;
    }
    return [encoding, parts, count];
  }
  window.outreachSmsParts = smsParts;

  function countLabel(labels, text) {
    var result = smsParts(text);
    var encoding = result[0] === "GSM-7" ? labels.labelGsm : labels.labelUcs;
    return encoding + " · " + result[2] + " " + labels.labelChars + " · " + result[1] + " " +
      labels.labelSms;
  }

  function fillPlaceholders(text, values) {
    return text.replace(/\{([^{}\s]{0,40})\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  /* -- copy buttons ------------------------------------------------------------------- */
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".outreach-copy");
    if (!button) { return; }
    var target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) { return; }
    copyText(target.textContent.trim()).then(function () {
      var label = button.querySelector(".outreach-copy-label");
      if (!label) { return; }
      var before = label.textContent;
      label.textContent = button.getAttribute("data-copied-label");
      button.classList.add("btn-success");
      window.setTimeout(function () {
        label.textContent = before;
        button.classList.remove("btn-success");
      }, 1500);
    });
  });

  /* -- confirmations ------------------------------------------------------------------ */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  /* -- select all --------------------------------------------------------------------- */
  document.querySelectorAll(".outreach-check-all").forEach(function (box) {
    box.addEventListener("change", function () {
      var form = box.closest("form");
      var name = box.getAttribute("data-target");
      form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (item) {
        item.checked = box.checked;
      });
    });
  });

  /* -- outcome form: show the fields that matter for the chosen kind ------------------ */
  document.querySelectorAll(".outreach-outcome-kind").forEach(function (select) {
    var form = select.closest("form");
    function refresh() {
      form.querySelectorAll(".outreach-when-message").forEach(function (el) {
        el.hidden = select.value !== "message_sent";
      });
      form.querySelectorAll(".outreach-when-referral").forEach(function (el) {
        el.hidden = select.value !== "referral";
      });
    }
    select.addEventListener("change", refresh);
    refresh();
  });

  /* -- live SMS counter of the template editor ----------------------------------------- */
  document.querySelectorAll("textarea[data-sms-counter]").forEach(function (area) {
    var output = document.querySelector(area.getAttribute("data-sms-counter"));
    var values = JSON.parse(area.getAttribute("data-placeholders") || "{}");
    function refresh() { output.textContent = countLabel(area.dataset, fillPlaceholders(area.value, values)); }
    area.addEventListener("input", refresh);
    refresh();
  });

  /* -- template picker of the session page -------------------------------------------- */
  var picker = document.getElementById("template-picker");
  if (picker) {
    var purpose = picker.querySelector(".outreach-pick-purpose");
    var language = picker.querySelector(".outreach-pick-language");
    var shown = document.getElementById("picked-text");
    var count = document.getElementById("picked-count");
    var pick = function () {
      var source = picker.querySelector('.outreach-template-source[data-purpose="' +
        purpose.value + '"][data-language="' + language.value + '"]');
      shown.textContent = source ? source.textContent : "";
      shown.setAttribute("dir", source && source.getAttribute("dir") === "rtl" ? "rtl" : "ltr");
      count.textContent = countLabel(shown.dataset, shown.textContent);
    };
    purpose.addEventListener("change", pick);
    language.addEventListener("change", pick);
    pick();
  }
})();
