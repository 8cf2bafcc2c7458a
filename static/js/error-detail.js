// Error detail: check the retry-data JSON while it is typed (the server checks it again), and drop a
// reviewed diff as soon as the text changes, so what is saved is always what was reviewed.
(function () {
  "use strict";
  document.addEventListener("input", function (event) {
    const area = event.target;
    if (area.id !== "retry-data-text") return;
    const feedback = document.getElementById("retry-data-json-error");
    const review = document.getElementById("retry-data-review");
    const button = document.getElementById("retry-data-review-button");
    if (review) review.replaceChildren();
    try {
      JSON.parse(area.value);
      area.classList.remove("is-invalid");
      feedback.textContent = "";
      button.disabled = false;
    } catch (error) {
      area.classList.add("is-invalid");
      feedback.textContent = "Not valid JSON: " + error.message;
      button.disabled = true;
    }
  });
})();
