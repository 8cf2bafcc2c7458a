// Overview: polite polling of the panels and the trend chart.
// Panels refresh every data-refresh-seconds while the tab is visible and eight times less often when it is
// hidden (as healthchecks does), and at once when the tab becomes visible again.
(function () {
  "use strict";
  const root = document.getElementById("overview");
  if (!root) return;
  const visibleMs = Number(root.dataset.refreshSeconds || 15) * 1000;
  const hiddenMs = visibleMs * 8;
  let timer = null;

  function refresh() {
    root.querySelectorAll("[data-poll]").forEach(function (panel) {
      window.htmx.trigger(panel, "refresh");
    });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      refresh();
      schedule();
    }, document.hidden ? hiddenMs : visibleMs);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
    schedule();
  });
  schedule();

  let chart = null;
  function readJson(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function drawTrend() {
    const days = readJson("trend-days");
    if (!days || !window.Chart) return;
    const data = {
      labels: days,
      datasets: [
        { label: "New", data: readJson("trend-new"), borderColor: "#dc3545", backgroundColor: "rgba(220,53,69,.15)", fill: true, tension: 0.25 },
        { label: "Closed", data: readJson("trend-closed"), borderColor: "#198754", backgroundColor: "rgba(25,135,84,.15)", fill: true, tension: 0.25 },
      ],
    };
    if (chart) {
      chart.data = data;
      chart.update("none");
      return;
    }
    chart = new window.Chart(document.getElementById("trend-chart"), {
      type: "line",
      data: data,
      options: { animation: false, maintainAspectRatio: true, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.matches("[data-testid=trend-panel]")) drawTrend();
  });
  // Chart.js loads with defer too; draw once it is there if the fragment won the race.
  window.addEventListener("load", drawTrend);
})();
