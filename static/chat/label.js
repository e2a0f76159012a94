// The return label page's Print button (a script file of its own: the page allows no inline script).
(function () {
  "use strict";
  const button = document.getElementById("print-label");
  if (button) button.addEventListener("click", () => window.print());
})();
