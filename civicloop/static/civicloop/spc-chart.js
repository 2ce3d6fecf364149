// Draws each SPC chart in the browser from its Vega-Lite spec (embedded by the server as JSON),
// replacing the SVG the server drew for readers without JavaScript and for print.
(function () {
  "use strict";
  function draw() {
    if (typeof window.vegaEmbed !== "function") return;
    document.querySelectorAll("[data-spec]").forEach(function (target) {
      var source = document.getElementById(target.getAttribute("data-spec"));
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      window
        .vegaEmbed(target, spec, { actions: false, renderer: "svg", tooltip: { theme: "light" } })
        .then(function () {
          target.classList.add("chart-live");
          target.setAttribute("data-rendered", "browser");
        })
        .catch(function (error) {
          // Keep the server's drawing; say why in the console for whoever debugs it.
          console.error("civicloop: chart not redrawn in the browser", error);
        });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
