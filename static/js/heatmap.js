// Colours the win-rate heatmap from each cell's data-hue and data-light. Set through the CSSOM, which the
// Content-Security-Policy allows; a style attribute written in the page it does not.
(function () {
  "use strict";
  document.querySelectorAll("table.heatmap td[data-hue]").forEach((cell) => {
    cell.style.backgroundColor = `hsl(${cell.dataset.hue}, 70%, ${cell.dataset.light}%)`;
  });
})();
