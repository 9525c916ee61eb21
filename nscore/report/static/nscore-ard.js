/* nscore.report.trace: Escape hides the note of the traced number under the pointer or focus
   (WCAG 1.4.13, content on hover or focus is dismissible); it shows again on the next hover/focus. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".nscore-ard:hover, .nscore-ard:focus-within").forEach(function (el) {
      el.classList.add("nscore-ard-dismissed");
    });
  });
  function reset(event) {
    var el = event.target.closest && event.target.closest(".nscore-ard");
    if (el) el.classList.remove("nscore-ard-dismissed");
  }
  document.addEventListener("focusin", reset);
  document.addEventListener("mouseover", reset);
})();
