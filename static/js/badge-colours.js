// A client group's badge takes its colour from data-badge-colour: the Content-Security-Policy
// refuses inline style attributes, while styles set from a script of this site are allowed.
(function () {
  "use strict";
  function paint(root) {
    root.querySelectorAll("[data-badge-colour]").forEach(function (badge) {
      badge.style.background = badge.getAttribute("data-badge-colour");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { paint(document); });
  document.addEventListener("htmx:afterSwap", function (event) { paint(event.target); });
})();
