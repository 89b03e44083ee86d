// Draws the dashboard's charts from the JSON the page embeds (#chart-data); no build step.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var LABELS = ["negative", "neutral", "positive"];
  var COLORS = { negative: "#d9534f", neutral: "#9e9e9e", positive: "#4caf50" };
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  window.dashboardCharts = {};

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    window.dashboardCharts[id] = new Chart(canvas, config);
  }

  function shortBucket(iso) {
    return data.granularity === "day" ? iso.slice(0, 10) : iso.slice(0, 16).replace("T", " ");
  }

  var series = data.timeseries;
  chart("chart-timeseries", {
    data: {
      labels: series.map(function (r) { return shortBucket(r.bucket); }),
      datasets: [
        { type: "line", label: "mean sentiment", yAxisID: "sentiment", borderColor: "#264b5d",
          data: series.map(function (r) { return r.sentiment; }), spanGaps: true },
        { type: "bar", label: "volume", yAxisID: "volume", backgroundColor: "rgba(121,174,200,0.5)",
          data: series.map(function (r) { return r.volume; }) }
      ]
    },
    options: { scales: {
      sentiment: { position: "left", min: -1, max: 1, title: { display: true, text: "polarity" } },
      volume: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "items" } }
    } }
  });

  var buckets = series.map(function (r) { return r.bucket; });
  var emotionNames = [];
  data.emotions.forEach(function (r) { if (emotionNames.indexOf(r.emotion) < 0) emotionNames.push(r.emotion); });
  emotionNames.sort();
  chart("chart-emotions", {
    type: "bar",
    data: {
      labels: buckets.map(shortBucket),
      datasets: emotionNames.map(function (name, i) {
        var counts = buckets.map(function () { return 0; });
        data.emotions.forEach(function (r) {
          if (r.emotion === name) {
            var at = buckets.indexOf(r.bucket);
            if (at >= 0) counts[at] = r.count;
          }
        });
        return { label: name, data: counts, backgroundColor: PALETTE[i % PALETTE.length] };
      })
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
  });

  function labelBars(id, rows, nameOf) {
    chart(id, {
      type: "bar",
      data: {
        labels: rows.map(nameOf),
        datasets: LABELS.map(function (label) {
          return { label: label, backgroundColor: COLORS[label], data: rows.map(function (r) { return r[label]; }) };
        }).concat([{ label: "items", backgroundColor: "rgba(121,174,200,0.5)", data: rows.map(function (r) { return r.volume; }) }])
      },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true } } }
    });
  }
  labelBars("chart-by-source", data.by_source, function (r) { return r.source_name; });
  labelBars("chart-by-kind", data.by_kind, function (r) { return r.kind; });

  // Changing a filter reloads the page with the new query (no Apply click needed).
  var form = document.getElementById("filters");
  if (form) {
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { form.requestSubmit(); });
    });
  }
})();
