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
        .then(function (result) {
          target.classList.add("chart-live");
          target.setAttribute("data-rendered", "browser");
          // Clicking a point starts an event on that period: the form below gets its date.
          var form = document.getElementById(target.getAttribute("data-annotate") || "");
          if (!form) return;
          result.view.addEventListener("click", function (event, item) {
            var period = item && item.datum && item.datum.period;
            if (!period) return;
            var day = form.querySelector("input[name=on]");
            var text = form.querySelector("input[name=text]");
            // Vega parses the period to a time (milliseconds, UTC): back to YYYY-MM-DD.
            var iso = typeof period === "number" ? new Date(period).toISOString() : String(period);
            if (day) day.value = iso.slice(0, 10);
            if (text) text.focus();
          });
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
