/* nscore.report.render: draws every chart of the page with the vendored vega (no vega-lite, no
   vega-embed: the specs were compiled to vega when the notebook ran) and vega-tooltip.

   Each chart box (<div class="nscore-chart">) holds its vega spec as JSON; its tiny inline script
   calls nscoreChart(box). Datasets may come column-encoded ({"encoding": "nscore-columns/1", ...},
   see render.encode_values): they are decoded to records before vega sees the spec.
   The chart is fitted to its box: drawn once at its own size; when wider than the box (the text
   column, 390 px on a phone) its widths (the top-level width and the width signals vega-lite
   compiles, e.g. child_width) are scaled down and the chart drawn again (up to five times, and
   again when the window is resized), so it keeps its font sizes and nothing is clipped. A view
   keeps half its width, at most 300 px (eleven numbers at risk must not run into each other): a
   chart that still does not fit is scaled down by the stylesheet. */
(function () {
  "use strict";
  var ENCODING = "nscore-columns/1";

  function decodeColumn(c) {
    if (Array.isArray(c)) { return c; }
    var out = [], i;
    if (c.r) {
      c.r.forEach(function (p) { for (i = 0; i < p[1]; i++) { out.push(p[0]); } });
      return out;
    }
    var acc = 0, scale = Math.pow(10, c.d);
    c.s.forEach(function (p) {
      var step = Array.isArray(p) ? p[0] : p, k = Array.isArray(p) ? p[1] : 1;
      for (i = 0; i < k; i++) { acc += step; out.push(c.d ? acc / scale : acc); }
    });
    return out;
  }

  function decodeValues(v) {
    if (!v || Array.isArray(v) || v.encoding !== ENCODING) { return v; }
    var cols = v.data.map(decodeColumn), rows = [], r, j;
    for (r = 0; r < v.n; r++) {
      var o = {};
      for (j = 0; j < v.columns.length; j++) { o[v.columns[j]] = cols[j][r]; }
      rows.push(o);
    }
    return rows;
  }

  function decodeSpec(spec) {
    (spec.data || []).forEach(function (d) { if (d.values) { d.values = decodeValues(d.values); } });
    return spec;
  }

  function narrower(w, f) { return Math.max(Math.min(w * 0.5, 300), Math.floor(w * f)); }

  /* A copy of the (decoded) spec with its widths scaled by f. */
  function scaled(spec, f) {
    var out = JSON.parse(JSON.stringify(spec));
    if (typeof out.width === "number") { out.width = narrower(out.width, f); }
    (out.signals || []).forEach(function (s) {
      if (/(^|_)width$/.test(s.name) && typeof s.value === "number") { s.value = narrower(s.value, f); }
    });
    return out;
  }

  function chart(box) {
    if (box.nscoreStarted) { return; }
    box.nscoreStarted = true;
    var base = null, shownFor = -1, factor = 1, view = null, pending = null;
    var target = box.querySelector(".nscore-chart-view");
    function fail(err) {
      box.classList.add("nscore-chart-failed");
      console.error("nscore chart " + box.getAttribute("data-chart") + ": " + err);
    }
    function draw(tries) {
      try {
        if (base === null) {
          base = decodeSpec(JSON.parse(box.querySelector("script.nscore-chart-spec").textContent));
        }
        var runtime = vega.parse(factor < 1 ? scaled(base, factor) : base);
        if (view) { view.finalize(); view = null; }
        target.textContent = "";
        var next = view = new vega.View(runtime, {renderer: "svg", container: target, hover: true});
        if (window.vegaTooltip) { next.tooltip(new vegaTooltip.Handler().call); }
        next.runAsync().then(function () {
          if (next !== view) { return; }  /* a resize started a newer drawing */
          box.classList.add("nscore-chart-live");
          var svg = target.querySelector("svg"), room = box.clientWidth;
          shownFor = room;
          if (svg && room > 0 && tries < 5) {
            var wide = parseFloat(svg.getAttribute("width")) || svg.getBoundingClientRect().width;
            if (wide > room + 0.5) { factor = factor * Math.pow((room - 2) / wide, 1.5); draw(tries + 1); }
          }
        }).catch(fail);
      } catch (err) { fail(err); }
    }
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        if (box.clientWidth > 0 && Math.abs(box.clientWidth - shownFor) > 8) { factor = 1; draw(0); }
      }, 200);
    });
    draw(0);
  }

  window.nscoreChart = function (box) {
    if (typeof vega === "undefined") { return; }  /* the static fallback image stays */
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () { chart(box); });
    } else {
      chart(box);
    }
  };
  /* boxes whose inline script ran before this file (none when it is loaded in the head) */
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".nscore-chart").forEach(function (box) {
      if (box.querySelector("script.nscore-chart-spec")) { window.nscoreChart(box); }
    });
  });
})();
