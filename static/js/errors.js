// Error list: row selection and "select all N matching" for the bulk actions.
// Selecting all matching does not load ids: the form carries the filter query instead, so an action can
// cover every matching error whatever their number.
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const pageBox = document.getElementById("select-page");
  const bar = document.getElementById("selection-bar");
  const count = document.getElementById("selection-count");
  const allButton = document.getElementById("select-all-matching");
  const allFlag = document.getElementById("select-all-matching-flag");
  const allNote = document.getElementById("all-matching-note");
  const rows = function () { return Array.from(form.querySelectorAll(".row-select")); };

  function update() {
    const checked = rows().filter(function (box) { return box.checked; }).length;
    count.textContent = String(checked);
    bar.classList.toggle("d-none", checked === 0);
    pageBox.checked = checked > 0 && checked === rows().length;
    pageBox.indeterminate = checked > 0 && checked < rows().length;
    if (checked < rows().length) clearAll();
  }

  function clearAll() {
    allFlag.value = "";
    allNote.classList.add("d-none");
    allButton.classList.remove("d-none");
  }

  pageBox.addEventListener("change", function () {
    rows().forEach(function (box) { box.checked = pageBox.checked; });
    update();
  });
  form.addEventListener("change", function (event) {
    if (event.target.classList.contains("row-select")) update();
  });
  allButton.addEventListener("click", function () {
    rows().forEach(function (box) { box.checked = true; });
    update();
    allFlag.value = "1";
    allButton.classList.add("d-none");
    allNote.classList.remove("d-none");
  });
})();
