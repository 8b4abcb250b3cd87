// Admin console: the weights preview follows the form as the admin edits it.
// Without this file the "Preview" button re-renders the page with the same figures.
(function () {
  "use strict";

  function livePreview(form) {
    var target = document.getElementById("preview-body");
    var box = document.getElementById("preview");
    if (!target || !box) { return; }
    var timer = null;
    var asked = 0;

    function refresh() {
      var mine = ++asked;
      var body = new URLSearchParams(new FormData(form));
      body.delete("action");
      box.classList.add("updating");
      fetch(form.dataset.livePreview, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString()
      }).then(function (answer) {
        return answer.ok ? answer.text() : Promise.reject(answer.status);
      }).then(function (html) {
        // The server escapes every piece of text in the fragment; only the latest answer wins.
        if (mine === asked) { target.innerHTML = html; }
      }).catch(function () {
        if (mine === asked) {
          target.textContent = "The preview could not be updated; use the Preview button.";
        }
      }).finally(function () {
        if (mine === asked) { box.classList.remove("updating"); }
      });
    }

    function soon() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 350);
    }

    form.addEventListener("change", soon);
    form.addEventListener("input", soon);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live-preview]");
    if (form) { livePreview(form); }
  });
}());
