// Behaviour every page shares, kept out of the markup so the Content-Security-Policy can refuse inline
// script and style (docs/architecture.md "Headers").
(function () {
  "use strict";

  // Progress bars carry their width as data-percent: a style attribute would be inline style.
  function sizeBars(root) {
    root.querySelectorAll("[data-percent]").forEach(function (bar) {
      const percent = Math.max(0, Math.min(100, Number(bar.getAttribute("data-percent")) || 0));
      bar.style.width = percent + "%";
    });
  }

  // Polled fragments (hx-trigger="every …") with data-poll-hidden="ms" poll at that slower pace while the
  // tab is hidden. This replaces htmx's trigger filters, which need eval.
  const lastPoll = new WeakMap();
  document.addEventListener("htmx:beforeRequest", function (event) {
    const element = event.detail.elt;
    const hiddenEvery = Number(element.getAttribute && element.getAttribute("data-poll-hidden"));
    if (!hiddenEvery) return;
    const now = Date.now();
    if (document.hidden && now - (lastPoll.get(element) || 0) < hiddenEvery) {
      event.preventDefault();
      return;
    }
    lastPoll.set(element, now);
  });

  document.addEventListener("DOMContentLoaded", function () { sizeBars(document); });
  document.addEventListener("htmx:load", function (event) { sizeBars(event.detail.elt); });
})();
