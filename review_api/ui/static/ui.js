// leadloop pages: a little help on top of plain forms, which work without this file.
// Keys: j / k move through the queue, Enter or o opens; on a proposal a approves,
// e edits the draft, r goes to the reject reason. Never while typing in a field.
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
  }

  function move(step) {
    var rows = queueRows();
    if (!rows.length) { return; }
    var at = rows.findIndex(function (r) { return r.classList.contains("current"); });
    var next = Math.min(rows.length - 1, Math.max(0, at + step));
    if (at >= 0) { rows[at].classList.remove("current"); }
    rows[next].classList.add("current");
    var link = rows[next].querySelector("a.open");
    if (link) { link.focus(); }
  }

  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }

  function focus(selector) {
    var el = document.querySelector(selector);
    if (el) { el.scrollIntoView({ block: "center" }); el.focus(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var handled = true;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": handled = click("[data-key=approve]"); break;
      case "e": handled = focus("[data-key=edit]"); break;
      case "r": handled = focus("[data-key=reject]"); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // "Select all clean drafts" on the queue.
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.querySelector("[data-select-all]");
    if (!all) { return; }
    all.hidden = false;
    all.addEventListener("click", function () {
      document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = true; });
    });
  });
}());
