// The dashboard page's script: draws each figure's chart from the JSON the server embedded
// (the tables beside them stay the source of truth and work without this script), and keeps
// the page live: on each server-sent `change`, it fetches the figures section again with the
// same filters and swaps it in.
(function () {
  "use strict";

  var CONFIG = { displaylogo: false, responsive: true, displayModeBar: false, staticPlot: false };

  function section() { return document.getElementById("figures"); }

  function payload() {
    var el = document.getElementById("figures-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function named(code, name) { return name || code; }

  function layout(data, extra) {
    var base = {
      separators: data.separators,
      margin: { t: 8, r: 8, b: 8, l: 8 },
      height: 320,
      legend: { orientation: "h" },
      xaxis: { automargin: true },
      yaxis: { automargin: true },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "inherit" }
    };
    for (var key in extra) { base[key] = extra[key]; }
    return base;
  }

  function bars(names, series, x) {
    return series.map(function (s) {
      return { type: "bar", name: names[s.label] || s.label, x: x, y: s.values };
    });
  }

  // One function per figure: (figure data, labels) -> [traces, layout additions] or null.
  var CHARTS = {
    funnel: function (f, L) {
      var stages = f.overall.stages.map(function (s) { return s.stage; });
      if (!stages.length) { return null; }
      // Bars across, stages down in order: each programme beside the whole.
      var funnels = [f.overall].concat(f.programmes);
      var traces = funnels.map(function (fn) {
        var people = {};
        fn.stages.forEach(function (s) { people[s.stage] = s.people; });
        return {
          type: "bar",
          orientation: "h",
          name: fn.programme_code ? named(fn.programme_code, fn.programme_name) : L.overall,
          y: stages.map(function (s) { return L["stage." + s] || s; }),
          x: stages.map(function (s) { return people[s] || 0; })
        };
      });
      return [traces, {
        barmode: "group",
        height: 120 + stages.length * 22 * funnels.length,
        yaxis: { automargin: true, autorange: "reversed" }
      }];
    },
    targets: function (f, L) {
      var rows = f.rows.filter(function (r) { return r.place_kind === "programme"; });
      if (!rows.length) { return null; }
      var x = rows.map(function (r) { return named(r.programme_code, r.programme_name); });
      return [bars(L, [
        { label: "series.target", values: rows.map(function (r) { return r.target; }) },
        { label: "series.achieved", values: rows.map(function (r) { return r.achieved; }) }
      ], x), { barmode: "group" }];
    },
    time_to_credit: function (f, L) {
      if (!f.rows.length) { return null; }
      var traces = f.rows.map(function (r) {
        return {
          type: "bar",
          name: named(r.lender_code, r.lender_name) + " · " + named(r.product_code, r.product_name),
          x: r.steps.map(function (s) { return L["step." + s.step] || s.step; }),
          y: r.steps.map(function (s) {
            return s.median_seconds === null ? null : s.median_seconds / 86400;
          })
        };
      });
      return [traces, { barmode: "group", yaxis: { automargin: true, title: { text: L.median } } }];
    },
    lenders: function (f, L) {
      if (!f.rows.length) { return null; }
      var x = f.rows.map(function (r) {
        return named(r.lender_code, r.lender_name) + " · " + named(r.product_code, r.product_name);
      });
      return [bars(L, ["referrals", "approved", "disbursed"].map(function (k) {
        return { label: k, values: f.rows.map(function (r) { return r[k]; }) };
      }), x), { barmode: "group" }];
    },
    selection: function (f, L) {
      if (!f.bands.length) { return null; }
      var x = f.bands.map(function (b) { return b.income_band || L.unknown; });
      return [bars(L, ["applied", "enrolled", "waitlisted"].map(function (k) {
        return { label: k, values: f.bands.map(function (b) { return b[k]; }) };
      }), x), { barmode: "group" }];
    },
    outcomes: function (f, L) {
      if (!f.rows.length) { return null; }
      var x = f.rows.map(function (r) { return r.village_name || r.village_code || L.unknown; });
      return [bars(L, ["improved", "unchanged", "lower", "no_record_after"].map(function (k) {
        return { label: k, values: f.rows.map(function (r) { return r[k]; }) };
      }), x), { barmode: "stack" }];
    }
  };

  function draw() {
    var data = payload();
    if (!data || !window.Plotly) { return; }
    document.querySelectorAll("#figures .chart").forEach(function (div) {
      var make = CHARTS[div.dataset.chart];
      var made = make ? make(data.figures[div.dataset.chart], data.labels) : null;
      if (!made) { div.hidden = true; return; }
      div.hidden = false;
      window.Plotly.newPlot(div, made[0], layout(data, made[1]), CONFIG);
      div.dataset.drawn = "true";
    });
  }

  function purge(root) {
    if (!window.Plotly) { return; }
    root.querySelectorAll(".chart[data-drawn]").forEach(function (div) { window.Plotly.purge(div); });
  }

  function announce(data) {
    var status = document.getElementById("live-status");
    if (!status) { return; }
    var time = new Date().toLocaleTimeString(document.documentElement.lang);
    status.textContent = status.dataset.updatedLabel + " " + time;
  }

  function swap(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    var fresh = holder.content.querySelector("#figures");
    var old = section();
    if (!fresh || !old) { return; }
    if (Number(fresh.dataset.version) < Number(old.dataset.version)) { return; }
    purge(old);
    old.replaceWith(fresh);
    announce();
    // The new numbers paint first; the charts (slower) are drawn on the next turn.
    window.setTimeout(draw, 0);
  }

  var busy = false;
  var again = false;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch("/fragment" + window.location.search, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 401) {  // the session ended: the page sends to the sign-in
        window.location.reload();
        return null;
      }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html) { swap(html); }
    }).catch(function () {
      // The server is away; the stream's reconnect brings the next change.
    }).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }

  function listen() {
    if (!window.EventSource || !section()) { return; }
    var source = new EventSource("/events/stream?after=" + encodeURIComponent(section().dataset.version));
    source.addEventListener("change", refresh);
    source.addEventListener("error", function () {
      // A refused stream (signed out) is not retried by the browser: find out why.
      if (source.readyState === EventSource.CLOSED) { refresh(); }
    });
  }

  function start() {
    listen();  // listening first: a change while the charts draw is not missed
    draw();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
