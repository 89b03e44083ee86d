// Drawing a face the detector missed: "Add a missed face" (or f), drag a box on the image,
// pick the label, Add. The box is sent in the stored image's pixels (the SVG's viewBox).
(function () {
  "use strict";
  var form = document.getElementById("add-face");
  if (!form) return;
  var svg = document.querySelector(".review-image svg");
  var rect = document.getElementById("draw-box");
  var fields = document.getElementById("add-face-fields");
  var hint = document.getElementById("add-face-hint");
  var width = Number(form.dataset.width), height = Number(form.dataset.height);
  var drawing = false, armed = false, start = null;

  function point(event) {
    var bounds = svg.getBoundingClientRect();
    var x = (event.clientX - bounds.left) / bounds.width * width;
    var y = (event.clientY - bounds.top) / bounds.height * height;
    return { x: Math.max(0, Math.min(width, x)), y: Math.max(0, Math.min(height, y)) };
  }

  function arm() {
    armed = true;
    svg.classList.add("drawing");
    hint.hidden = false;
  }

  function reset() {
    armed = drawing = false;
    svg.classList.remove("drawing");
    rect.setAttribute("hidden", "");
    fields.hidden = true;
    hint.hidden = true;
  }

  function show(a, b) {
    var x1 = Math.min(a.x, b.x), y1 = Math.min(a.y, b.y);
    var x2 = Math.max(a.x, b.x), y2 = Math.max(a.y, b.y);
    rect.setAttribute("x", x1); rect.setAttribute("y", y1);
    rect.setAttribute("width", x2 - x1); rect.setAttribute("height", y2 - y1);
    rect.removeAttribute("hidden");
    form.elements.x1.value = x1.toFixed(1); form.elements.y1.value = y1.toFixed(1);
    form.elements.x2.value = x2.toFixed(1); form.elements.y2.value = y2.toFixed(1);
  }

  document.getElementById("add-face-start").addEventListener("click", arm);
  document.getElementById("add-face-cancel").addEventListener("click", reset);
  svg.addEventListener("mousedown", function (event) {
    if (!armed) return;
    drawing = true;
    start = point(event);
    show(start, start);
    event.preventDefault();
  });
  svg.addEventListener("mousemove", function (event) {
    if (drawing) show(start, point(event));
  });
  window.addEventListener("mouseup", function (event) {
    if (!drawing) return;
    drawing = false;
    show(start, point(event));
    fields.hidden = false;
    document.getElementById("add-face-label").focus();
  });
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "select" || tag === "input" || event.ctrlKey || event.metaKey) return;
    if (event.key === "f") { arm(); event.preventDefault(); }
    if (event.key === "Escape") reset();
  }, true);
})();
