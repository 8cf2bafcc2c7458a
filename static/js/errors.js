// Error list: row selection and "select all N matching" for the bulk actions.
// Selecting all matching does not load ids: the form carries the filter query instead, so an action can
// cover every matching error whatever their number. Listeners sit on the document because the rows are
// fetched again (a new form) when a bulk action finishes.
(function () {
  "use strict";
  const byId = function (id) { return document.getElementById(id); };
  const rows = function () { return Array.from(document.querySelectorAll("#bulk-form .row-select")); };

  function clearAll() {
    byId("select-all-matching-flag").value = "";
    byId("all-matching-note").classList.add("d-none");
    byId("select-all-matching").classList.remove("d-none");
  }

  function update() {
    const pageBox = byId("select-page");
    const all = rows();
    const checked = all.filter(function (box) { return box.checked; }).length;
    byId("selection-count").textContent = String(checked);
    byId("selection-bar").classList.toggle("d-none", checked === 0);
    pageBox.checked = checked > 0 && checked === all.length;
    pageBox.indeterminate = checked > 0 && checked < all.length;
    if (checked < all.length) clearAll();
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!target.closest || !target.closest("#bulk-form")) return;
    if (target.id === "select-page") {
      rows().forEach(function (box) { box.checked = target.checked; });
      update();
    } else if (target.classList.contains("row-select")) {
      update();
    }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("#select-all-matching")) return;
    rows().forEach(function (box) { box.checked = true; });
    update();
    byId("select-all-matching-flag").value = "1";
    byId("select-all-matching").classList.add("d-none");
    byId("all-matching-note").classList.remove("d-none");
  });
})();
