/* Follows a load on its run page: polls the page's JSON twin every second and updates the
   progress bar; the status line is an aria-live region, so a change of status or phase is
   announced (the percentage is not, or a screen reader would talk every second). When the
   load finishes, the server-rendered result (summary, problems table) is fetched and shown.
   Without JavaScript the page has a plain Refresh link instead. */
(function () {
  "use strict";

  var box = document.getElementById("run-live");
  if (!box || box.dataset.finished === "true" || !window.fetch) {
    return;
  }
  var jsonUrl = box.dataset.jsonUrl;
  var statusRegion = document.getElementById("run-status");
  var bar = document.getElementById("run-progress");
  var barText = document.getElementById("run-progress-text");
  var failures = 0;
  var PHASES = {
    reading: "reading the file",
    checking: "checking every row",
    writing: "writing the new version"
  };
  var lastAnnounced = box.dataset.status + "|" + (box.dataset.phase || "");

  /* The status line: "Status: [Running] — checking every row". Rewritten only when the
     status or phase changes, so the live region speaks only then. */
  function announce(status, label, rest) {
    var key = status + "|" + rest;
    if (key === lastAnnounced) {
      return;
    }
    lastAnnounced = key;
    var paragraph = document.createElement("p");
    var badge = document.createElement("strong");
    badge.className = "badge badge-run-" + status;
    badge.textContent = label;
    paragraph.append("Status: ", badge, rest ? " " + rest : "");
    statusRegion.replaceChildren(paragraph);
  }

  function showProgress(run) {
    if (!bar) {
      return;
    }
    if (run.progress.determinate) {
      bar.value = run.progress.percent;
    } else {
      bar.removeAttribute("value"); /* indeterminate: the phase has no measurable size */
    }
    bar.textContent = run.progress.text;
    if (barText) {
      barText.textContent = run.progress.text;
    }
  }

  function swapIn(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    ["run-status", "run-progress-box", "run-refresh", "run-result"].forEach(function (id) {
      var here = document.getElementById(id);
      var there = page.getElementById(id);
      if (!here) {
        return;
      }
      if (!there) {
        here.remove();
      } else {
        here.replaceChildren.apply(here, Array.from(there.childNodes).map(function (node) {
          return document.importNode(node, true);
        }));
      }
    });
    box.dataset.finished = "true";
  }

  function finish() {
    if (bar) {
      bar.value = 100;
    }
    /* The result replaces the status line once, so it is announced once. */
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(swapIn)
      .catch(function () {
        window.location.reload();
      });
  }

  function poll() {
    fetch(jsonUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (run) {
        failures = 0;
        showProgress(run);
        if (run.finished) {
          finish();
          return;
        }
        var phase = run.status === "running" && PHASES[run.phase] ? "— " + PHASES[run.phase] : "";
        announce(run.status, run.status_label, phase);
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;
        if (failures < 10) {
          window.setTimeout(poll, 2000);
        } else {
          var note = document.createElement("p");
          note.textContent = "The page stopped following the load. Use Refresh to see where it is.";
          statusRegion.append(note);
        }
      });
  }

  window.setTimeout(poll, 1000);
})();
