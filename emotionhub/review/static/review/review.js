// Keyboard review: 1-9 pick a label of the selected target, j/k or arrows move between
// targets, a restores the model's labels, Enter saves and opens the next item, n skips.
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form) return;
  var targets = Array.prototype.slice.call(form.querySelectorAll(".review-target"));
  var current = 0;

  function select(index) {
    if (!targets.length) return;
    current = (index + targets.length) % targets.length;
    targets.forEach(function (t, i) { t.classList.toggle("selected", i === current); });
    var name = targets[current].dataset.target;
    document.querySelectorAll(".face-box, .track-lane").forEach(function (g) {
      g.classList.toggle("selected", g.dataset.target === name);
    });
  }

  function refreshBoxLabel(fieldset) {
    var checked = fieldset.querySelector("input:checked");
    var box = document.querySelector('.face-box[data-target="' + fieldset.dataset.target + '"] text');
    if (box && checked) {
      box.textContent = (targets.indexOf(fieldset) + 1) + ": " + checked.value;
    }
  }

  targets.forEach(function (fieldset, i) {
    fieldset.addEventListener("focusin", function () { select(i); });
    fieldset.addEventListener("change", function () { refreshBoxLabel(fieldset); });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || (tag === "input" && event.target.type === "text")) return;
    if (event.target.closest && event.target.closest("#add-face")) return;  // add_face.js
    var key = event.key;
    if (/^[1-9]$/.test(key) && targets.length) {
      var inputs = targets[current].querySelectorAll("input[type=radio]");
      var input = inputs[Number(key) - 1];
      if (input) {
        input.checked = true;
        refreshBoxLabel(targets[current]);
      }
      event.preventDefault();
    } else if (key === "j" || key === "ArrowDown") {
      select(current + 1);
      event.preventDefault();
    } else if (key === "k" || key === "ArrowUp") {
      select(current - 1);
      event.preventDefault();
    } else if (key === "a") {
      targets.forEach(function (t) {
        var model = t.querySelector('input[value="' + t.dataset.modelLabel + '"]');
        if (model) { model.checked = true; refreshBoxLabel(t); }
      });
      event.preventDefault();
    } else if (key === "Enter") {
      var save = document.getElementById("save-next");
      if (save) { form.requestSubmit(save); event.preventDefault(); }
    } else if (key === "n") {
      var skip = document.getElementById("skip");
      if (skip) { window.location.href = skip.href; event.preventDefault(); }
    }
  });
  select(0);
})();
