/* Present mode: one agenda item per screen, moved through with the keyboard; notes and
   actions saved without leaving the item. Without JavaScript every item is shown in turn and
   the forms post normally. */
(function () {
  "use strict";
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide[id]"));
  if (!slides.length) return;
  document.body.classList.add("js-present");
  var count = document.getElementById("present-count");
  var current = 0;

  function show(index, focus) {
    current = Math.max(0, Math.min(slides.length - 1, index));
    slides.forEach(function (s, i) { s.hidden = i !== current; });
    var slide = slides[current];
    if (history.replaceState) history.replaceState(null, "", "#" + slide.id);
    if (count) count.textContent = "Item " + (current + 1) + " of " + slides.length;
    if (focus) {
      var heading = slide.querySelector("h1");
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  function fromHash() {
    var id = (location.hash || "").slice(1);
    var i = slides.findIndex(function (s) { return s.id === id; });
    return i < 0 ? 0 : i;
  }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var key = event.key;
    if (key === "ArrowRight" || key === "PageDown") show(current + 1, true);
    else if (key === "ArrowLeft" || key === "PageUp") show(current - 1, true);
    else if (key === "Home") show(0, true);
    else if (key === "End") show(slides.length - 1, true);
    else return;
    event.preventDefault();
  });

  document.querySelectorAll("[data-go]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      show(current + (link.getAttribute("data-go") === "next" ? 1 : -1), true);
    });
  });

  document.querySelectorAll("form.capture-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = form.querySelector(".form-status");
      status.textContent = "Saving…";
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (result) {
        if (!result.ok) {
          var errors = result.body.errors || {};
          status.textContent = "Not saved: " + Object.keys(errors).map(function (k) {
            return errors[k].join(" ");
          }).join(" ");
          return;
        }
        var list = document.querySelector('[data-captured="' + form.getAttribute("data-list") + '"]');
        var item = document.createElement("li");
        var strong = document.createElement("strong");
        var b = result.body;
        strong.textContent = (b.kind || "Action") + ": ";
        item.appendChild(strong);
        item.appendChild(document.createTextNode(
          b.owner ? b.text + " — " + b.owner + ", due " + b.due_on : b.text));
        list.appendChild(item);
        form.reset();
        status.textContent = "Saved.";
      }).catch(function () {
        status.textContent = "Not saved: the server could not be reached. Try again.";
      });
    });
  });

  window.addEventListener("hashchange", function () { show(fromHash(), false); });
  show(fromHash(), false);
})();
