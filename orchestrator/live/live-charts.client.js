// Browser side of the live page and of the report's static charts (plain JS, inlined into the page after uPlot).
// Live mode (<body data-live="1">) follows the run over Server-Sent Events from /events; static mode reads the points
// embedded in <script id="lab-points" type="application/json">. Both draw the same four things: connections per side
// against the target, memory per component, memory per connection, and the run's phases, plus which component is down.
(function () {
  'use strict';
  var KB = 1024, MB = 1024 * 1024, GB = 1024 * MB;
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

  function fmtBytes(v) {
    if (v == null || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (a >= GB) return (v / GB).toFixed(2) + ' GiB';
    if (a >= MB) return (v / MB).toFixed(1) + ' MiB';
    if (a >= KB) return (v / KB).toFixed(2) + ' KiB';
    return Math.round(v) + ' B';
  }
  function fmtCount(v) {
    return v == null || !isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US');
  }

  var points = [];
  var charts = {};
  var finished = null;

  // Each chart: its series (label and how to read it from a point) depend on the points, so a load generator that
  // appears later gets its own line; the chart is rebuilt when the set of series changes.
  var CHARTS = [
    {
      key: 'connections', title: 'Connections', fmt: fmtCount,
      series: function () {
        return [
          { label: 'server', get: function (p) { return p.server; } },
          { label: 'client', get: function (p) { return p.client; } },
          { label: 'target', get: function (p) { return p.target; }, dash: [6, 4] },
        ];
      },
    },
    {
      key: 'memory', title: 'Memory per component', fmt: fmtBytes,
      series: function (pts) {
        var names = {}, kernel = false;
        pts.forEach(function (p) {
          Object.keys(p.roles || {}).forEach(function (n) { names[n] = true; });
          Object.keys(p.mem).forEach(function (n) { names[n] = true; });
          if (p.kernelTcp != null) kernel = true;
        });
        var out = Object.keys(names).sort(function (a, b) { return a === 'server' ? -1 : b === 'server' ? 1 : a.localeCompare(b, 'en', { numeric: true }); })
          .map(function (n) { return { label: n, get: function (p) { return p.mem[n] == null ? null : p.mem[n]; } }; });
        if (kernel) out.push({ label: 'kernel TCP (host)', get: function (p) { return p.kernelTcp == null ? null : p.kernelTcp; }, dash: [4, 3] });
        return out;
      },
    },
    {
      key: 'perConnection', title: 'Memory per connection (growth since start ÷ connections)', fmt: fmtBytes,
      series: function () {
        return ['server', 'loadgen', 'kernel'].map(function (k) {
          return { label: k, get: function (p) { return p.perConn && p.perConn[k] != null ? p.perConn[k] : null; } };
        });
      },
    },
  ];

  // Vertical lines where the phase changes, labelled with the new phase: the fourth chart, drawn on the other three.
  function phaseLines() {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, xs = u.data[0], prev = null;
          ctx.save();
          ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
          ctx.fillStyle = '#555';
          ctx.strokeStyle = '#999';
          ctx.setLineDash([3, 3]);
          for (var i = 0; i < points.length && i < xs.length; i++) {
            var ph = points[i].phase;
            if (ph !== prev) {
              var x = Math.round(u.valToPos(xs[i], 'x', true));
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(ph, x + 3, u.bbox.top + 12 * devicePixelRatio);
              prev = ph;
            }
          }
          ctx.restore();
        }],
      },
    };
  }

  function dataFor(def, series) {
    var data = [points.map(function (p) { return p.t; })];
    series.forEach(function (s) { data.push(points.map(s.get)); });
    return data;
  }

  function width() {
    return Math.max(320, Math.min(1100, document.documentElement.clientWidth - 40));
  }

  function build(def) {
    var series = def.series(points);
    var sig = series.map(function (s) { return s.label; }).join('|');
    var c = charts[def.key];
    var data = dataFor(def, series);
    if (c && c.sig === sig) {
      c.plot.setData(data);
      return;
    }
    if (c) c.plot.destroy();
    var el = document.getElementById('chart-' + def.key);
    var opts = {
      title: def.title,
      width: width(),
      height: 260,
      plugins: [phaseLines()],
      scales: { x: { time: true } },
      axes: [{}, { size: 80, values: function (u, vals) { return vals.map(def.fmt); } }],
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, dash: s.dash, spanGaps: false, value: function (u, v) { return def.fmt(v); } };
      })),
    };
    charts[def.key] = { sig: sig, plot: new uPlot(opts, data, el) };
  }

  function renderStatus() {
    var last = points[points.length - 1];
    var phase = document.getElementById('phase');
    var summary = document.getElementById('summary');
    var comps = document.getElementById('components');
    if (!last) return;
    phase.textContent = finished ? 'done' + (finished.incomplete ? ' (incomplete)' : '') : last.phase;
    phase.dataset.phase = phase.textContent;
    summary.textContent = 'server ' + fmtCount(last.server) + ' · client ' + fmtCount(last.client) + ' of ' + fmtCount(last.target) +
      ' connections · ' + new Date(last.t * 1000).toISOString().slice(11, 19) + ' UTC';
    var rows = Object.keys(last.roles).map(function (name) {
      var dead = last.down[name];
      return '<tr class="' + (dead ? 'down' : 'up') + '" data-component="' + name + '"><td>' + name + '</td><td>' + last.roles[name] + '</td><td>' +
        (dead ? 'DOWN: ' + escapeHtml(dead) : 'up') + '</td><td>' + (dead ? '–' : fmtBytes(last.mem[name])) + '</td></tr>';
    });
    comps.innerHTML = '<tr><th>component</th><th>role</th><th>state</th><th>memory</th></tr>' + rows.join('');
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (ch) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[ch]; });
  }

  function render() {
    CHARTS.forEach(build);
    renderStatus();
  }

  function setConnection(text, ok) {
    var el = document.getElementById('connection');
    if (!el) return;
    el.textContent = text;
    el.className = ok ? 'ok' : 'lost';
  }

  var api = {
    points: points,
    charts: charts,
    /** The data a chart draws, by chart key and series label: what tests read. */
    series: function (key, label) {
      var c = charts[key];
      if (!c) return [];
      var i = c.plot.series.findIndex(function (s) { return s.label === label; });
      return i < 0 ? [] : Array.prototype.slice.call(c.plot.data[i]);
    },
    load: function (pts) { points.length = 0; Array.prototype.push.apply(points, pts); render(); },
    add: function (p) { points.push(p); render(); },
    done: function (info) { finished = info || {}; render(); },
  };
  window.cometLab = api;

  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (k) { charts[k].plot.setSize({ width: width(), height: 260 }); });
  });

  var embedded = document.getElementById('lab-points');
  if (embedded) api.load(JSON.parse(embedded.textContent || '[]'));
  if (document.body.dataset.live === '1') {
    var es = new EventSource('events');
    es.addEventListener('history', function (e) { api.load(JSON.parse(e.data)); setConnection('live', true); });
    es.addEventListener('sample', function (e) { api.add(JSON.parse(e.data)); setConnection('live', true); });
    es.addEventListener('done', function (e) { api.done(JSON.parse(e.data)); setConnection('run finished', true); es.close(); });
    es.addEventListener('run-error', function (e) {
      var li = document.createElement('li');
      li.textContent = JSON.parse(e.data).message;
      document.getElementById('errors').appendChild(li);
    });
    // EventSource reconnects by itself; say so while the orchestrator cannot be reached.
    es.onerror = function () { if (!finished) setConnection('orchestrator unreachable, retrying…', false); };
  }
})();
