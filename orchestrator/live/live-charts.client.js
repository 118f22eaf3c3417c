// Browser side of the live page and of the report's charts (plain JS, inlined into the page after uPlot).
// Live mode (<body data-live="1">) follows the run over Server-Sent Events from /events; static mode (report.html)
// reads the points, phases and end embedded in <script id="lab-run" type="application/json">, plus the report's
// connections-vs-memory charts in <script id="lab-xy" ...>. Both draw the same time charts from the same points:
// connections, memory per component, memory per connection, heartbeat chunks/s expected vs received, messages/s,
// delivery latency, errors by cause and CPU per component, with a line where each phase began.
// Every y axis starts at 0; x is seconds since the run started. The legend shows the value under the cursor, and the
// latest value when the cursor is elsewhere; each chart's key figure is written above it in large type.
(function () {
  'use strict';
  var KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  var HEIGHT = 230;

  // ---- number formats ----------------------------------------------------------------------------------------
  function trim(x, digits) { return x.toFixed(digits).replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1'); }
  function byteUnit(v) { v = Math.abs(v); return v >= GiB ? [GiB, 'GiB'] : v >= MiB ? [MiB, 'MiB'] : v >= KiB ? [KiB, 'KiB'] : [1, 'B']; }
  function fmtBytes(v) {
    if (v == null || !isFinite(v)) return '–';
    var u = byteUnit(v);
    return trim(v / u[0], u[0] === 1 ? 0 : 2) + ' ' + u[1];
  }
  function fmtCount(v) { return v == null || !isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'); }
  function fmtRate(v) { return v == null || !isFinite(v) ? '–' : (v >= 100 ? Math.round(v).toLocaleString('en-US') : trim(v, 1)) + '/s'; }
  function fmtMs(v) { return v == null || !isFinite(v) ? '–' : (v >= 100 ? Math.round(v) : trim(v, 2)) + ' ms'; }
  function fmtCores(v) { return v == null || !isFinite(v) ? '–' : trim(v, 2) + ' cores'; }
  function fmtSeconds(v) {
    if (v == null || !isFinite(v)) return '–';
    if (v < 120) return trim(v, v < 10 ? 1 : 0) + ' s';
    var m = Math.floor(v / 60), s = Math.round(v - 60 * m);
    return m + ':' + (s < 10 ? '0' : '') + s;
  }

  // Tick steps: bytes in 1-2-5 steps of B, KiB, MiB, GiB (never 19.1 MiB); seconds in whole seconds and minutes.
  var BYTE_INCRS = [], NUM_INCRS = [];
  [1, KiB, MiB, GiB].forEach(function (u) { [1, 2, 5, 10, 20, 50, 100, 200, 500].forEach(function (m) { BYTE_INCRS.push(m * u); }); });
  for (var e = -3; e <= 9; e++) [1, 2, 5].forEach(function (m) { NUM_INCRS.push(+(m * Math.pow(10, e)).toPrecision(1)); });
  var SECOND_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  var COUNT_INCRS = NUM_INCRS.filter(function (x) { return x >= 1; });

  function tickFormatter(kind) {
    return function (u, vals) {
      if (kind === 'bytes') {
        var top = Math.max.apply(null, vals.map(Math.abs)), unit = byteUnit(top), step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) / unit[0] : 1;
        var digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
        return vals.map(function (v) { return v == null ? '' : trim(v / unit[0], digits) + ' ' + unit[1]; });
      }
      if (kind === 'seconds') return vals.map(fmtSeconds);
      return vals.map(function (v) { return v == null ? '' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(+v.toPrecision(6)); });
    };
  }
  var KINDS = {
    count: { fmt: fmtCount, incrs: COUNT_INCRS, ticks: 'count' },
    bytes: { fmt: fmtBytes, incrs: BYTE_INCRS, ticks: 'bytes' },
    rate: { fmt: fmtRate, incrs: NUM_INCRS, ticks: 'num' },
    ms: { fmt: fmtMs, incrs: NUM_INCRS, ticks: 'num' },
    cores: { fmt: fmtCores, incrs: NUM_INCRS, ticks: 'num' },
  };

  // ---- state -------------------------------------------------------------------------------------------------
  var points = [];
  var phases = [];
  var charts = {};
  var finished = null;

  function last(get) {
    for (var i = points.length - 1; i >= 0; i--) { var v = get(points[i]); if (v != null) return v; }
    return null;
  }
  function names(pick) {
    var seen = {};
    points.forEach(function (p) { Object.keys(pick(p) || {}).forEach(function (n) { seen[n] = true; }); });
    return Object.keys(seen).sort(function (a, b) { return a === 'server' ? -1 : b === 'server' ? 1 : a.localeCompare(b, 'en', { numeric: true }); });
  }
  function field(obj, key) { return obj && obj[key] != null ? obj[key] : null; }

  // ---- the charts --------------------------------------------------------------------------------------------
  var CHARTS = [
    {
      key: 'connections', title: 'Connections', kind: 'count',
      series: function () {
        return [
          // The server's line is drawn wide and pale under the client's, so it shows where the two agree.
          { label: 'server (/stats)', get: function (p) { return p.server; }, width: 6, color: 'rgba(31,119,180,0.45)' },
          { label: 'client (load generators)', get: function (p) { return p.client; }, width: 2, color: '#d62728' },
          { label: 'target N', get: function (p) { return p.target; }, dash: [6, 4], color: '#555' },
        ];
      },
      figure: function () {
        var s = last(function (p) { return p.server; }), c = last(function (p) { return p.client; }), n = last(function (p) { return p.target; });
        return 'server ' + fmtCount(s) + ' · client ' + fmtCount(c) + ' of ' + fmtCount(n);
      },
    },
    {
      key: 'memory', title: 'Memory per component (working set)', kind: 'bytes', gc: true,
      series: function () {
        return names(function (p) { return Object.assign({}, p.roles, p.mem); }).map(function (n) {
          return { label: n, get: function (p) { return field(p.mem, n); } };
        });
      },
      figure: function () {
        var s = last(function (p) { return field(p.mem, 'server'); });
        var lg = last(function (p) { var t = 0, any = false; Object.keys(p.mem).forEach(function (n) { if (p.roles[n] === 'loadgen') { t += p.mem[n]; any = true; } }); return any ? t : null; });
        return 'server ' + fmtBytes(s) + ' · load generators ' + fmtBytes(lg);
      },
    },
    {
      key: 'perConnection', title: 'Memory per connection (growth since the start ÷ connections held)', kind: 'bytes', gc: true,
      series: function () {
        return [
          { label: 'server', get: function (p) { return field(p.perConn, 'server'); } },
          { label: 'load generators', get: function (p) { return field(p.perConn, 'loadgen'); } },
          { label: 'kernel slab (host-wide, both ends)', get: function (p) { return field(p.perConn, 'kernel'); }, dash: [4, 3] },
        ];
      },
      figure: function () {
        return 'server ' + fmtBytes(last(function (p) { return field(p.perConn, 'server'); })) + ' · load generators ' + fmtBytes(last(function (p) { return field(p.perConn, 'loadgen'); }));
      },
    },
    {
      key: 'chunks', title: 'Heartbeat chunks per second', kind: 'rate',
      series: function () {
        return [
          { label: 'received', get: function (p) { return field(p.chunks, 'received'); } },
          { label: 'expected (held ÷ heartbeat)', get: function (p) { return field(p.chunks, 'expected'); }, dash: [6, 4], color: '#555' },
        ];
      },
      figure: function () {
        var r = last(function (p) { return field(p.chunks, 'received'); }), x = last(function (p) { return field(p.chunks, 'expected'); });
        return fmtRate(r) + ' received' + (x != null ? ' of ' + fmtRate(x) + ' expected' : '');
      },
    },
    {
      key: 'messages', title: 'Messages per second (sends and broadcasts)', kind: 'rate',
      series: function () {
        return [
          { label: 'written by the server', get: function (p) { return field(p.messages, 'sent'); }, width: 6, color: 'rgba(31,119,180,0.45)' },
          { label: 'received by the clients', get: function (p) { return field(p.messages, 'received'); }, color: '#d62728' },
        ];
      },
      figure: function () {
        var peak = 0;
        points.forEach(function (p) { var v = field(p.messages, 'received'); if (v != null && v > peak) peak = v; });
        return 'peak ' + fmtRate(peak) + ' received';
      },
    },
    {
      key: 'latency', title: 'Delivery latency (since the phase began)', kind: 'ms',
      series: function () {
        return [
          { label: 'end to end p50', get: function (p) { return field(p.latency, 'p50'); } },
          { label: 'end to end p99 (worst load generator)', get: function (p) { return field(p.latency, 'p99'); } },
          { label: 'inside the server p50', get: function (p) { return field(p.latency, 'serverP50'); }, dash: [4, 3] },
          { label: 'inside the server p99', get: function (p) { return field(p.latency, 'serverP99'); }, dash: [4, 3] },
        ];
      },
      figure: function () {
        return 'p50 ' + fmtMs(last(function (p) { return field(p.latency, 'p50'); })) + ' · p99 ' + fmtMs(last(function (p) { return field(p.latency, 'p99'); }));
      },
    },
    {
      key: 'errors', title: 'Connection errors by cause (so far)', kind: 'count',
      series: function () {
        var out = [{ label: 'all causes', get: function (p) { return p.client == null ? null : Object.keys(p.errors).reduce(function (a, k) { return a + p.errors[k]; }, 0); }, width: 3, color: '#333' }];
        names(function (p) { return p.errors; }).forEach(function (c) { out.push({ label: c, get: function (p) { return p.client == null ? null : field(p.errors, c) || 0; } }); });
        return out;
      },
      figure: function () {
        var p = points[points.length - 1];
        if (!p) return '';
        var keys = Object.keys(p.errors);
        return keys.length ? keys.map(function (k) { return k + ' ' + fmtCount(p.errors[k]); }).join(' · ') : 'no errors';
      },
    },
    {
      key: 'cpu', title: 'CPU per component', kind: 'cores',
      series: function () {
        return names(function (p) { return p.cpu; }).map(function (n) { return { label: n, get: function (p) { return field(p.cpu, n); } }; });
      },
      figure: function () {
        var p = points[points.length - 1];
        if (!p) return '';
        var total = Object.keys(p.cpu).reduce(function (a, k) { return a + p.cpu[k]; }, 0);
        return fmtCores(total) + ' in all';
      },
    },
  ];

  // A labelled vertical line at each of `marks()` ({ t, label }, on the points' clock) inside the plot's time range;
  // `style`: colours, dash, and the label's place (`top`: in the padding above the plot, clear of the y ticks).
  function markLines(style, marks) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, dpr = devicePixelRatio || 1;
          ctx.save();
          ctx.font = (11 * dpr) + 'px sans-serif';
          ctx.fillStyle = style.text;
          ctx.strokeStyle = style.line;
          ctx.setLineDash(style.dash);
          marks().forEach(function (m) {
            if (m.t < u.scales.x.min || m.t > u.scales.x.max) return;
            var x = Math.round(u.valToPos(m.t, 'x', true));
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText(m.label, x + 3, style.label === 'top' ? u.bbox.top - 4 * dpr : u.bbox.top + u.bbox.height - 4 * dpr);
          });
          ctx.restore();
        }],
      },
    };
  }

  // The server's idle garbage collections (from its /stats): an orange line where each ran, on the memory charts.
  function gcLines() {
    return markLines({ text: '#d46b08', line: '#d46b08', dash: [2, 2], label: 'bottom' }, function () {
      return points.filter(function (p) { return p.idleGc; }).map(function (p) {
        return { t: p.idleGc.t, label: 'idle GC' + (p.idleGc.count > 1 ? ' x' + p.idleGc.count : '') };
      });
    });
  }

  // Vertical lines where a phase began (from the run's phase events, on the points' clock), labelled.
  function phaseLines() {
    return markLines({ text: '#555', line: '#999', dash: [3, 3], label: 'top' }, function () {
      return phases.map(function (ph) { return { t: ph.t, label: ph.name }; });
    });
  }

  function width(el) {
    return Math.max(320, Math.min(1100, (el && el.parentElement ? el.parentElement.clientWidth : document.documentElement.clientWidth) - 10));
  }

  function yScale() {
    return { range: function (u, min, max) { return [0, max > 0 ? uPlot.rangeNum(0, max, 0.05, true)[1] : 1]; } };
  }

  function legendValue(fmt, get) {
    // Under the cursor: that point's value; elsewhere: the latest value (never the '--' placeholder).
    return function (u, v, si, idx) {
      if (idx == null) { var l = last(get); return l == null ? '–' : fmt(l) + ' (latest)'; }
      return v == null ? '–' : fmt(v);
    };
  }

  function build(def) {
    var el = document.getElementById('chart-' + def.key);
    if (!el) return;
    var kind = KINDS[def.kind];
    var series = def.series();
    var sig = series.map(function (s) { return s.label; }).join('|');
    var data = [points.map(function (p) { return p.t; })];
    series.forEach(function (s) { data.push(points.map(s.get)); });
    var title = document.getElementById('title-' + def.key);
    if (title) title.textContent = def.title;
    var fig = document.getElementById('figure-' + def.key);
    var hasData = data.slice(1).some(function (col) { return col.some(function (v) { return v != null; }); });
    if (fig) fig.textContent = hasData ? def.figure() : 'no data in this run';
    el.parentElement.dataset.hasData = hasData ? '1' : '0';
    var c = charts[def.key];
    if (c && c.sig === sig) {
      c.plot.setData(data);
      return;
    }
    if (c) c.plot.destroy();
    var opts = {
      width: width(el),
      height: HEIGHT,
      padding: [18, 12, 0, 0],
      plugins: def.gc ? [phaseLines(), gcLines()] : [phaseLines()],
      scales: { x: { time: false }, y: yScale() },
      axes: [
        { incrs: SECOND_INCRS, values: tickFormatter('seconds'), label: 'time since the run started' },
        { size: 80, incrs: kind.incrs, values: tickFormatter(kind.ticks) },
      ],
      series: [{ label: 't', value: function (u, v, si, idx) { return idx == null ? fmtSeconds(last(function (p) { return p.t; })) : fmtSeconds(v); } }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: s.width || 2, dash: s.dash, spanGaps: false, points: { show: false }, value: legendValue(kind.fmt, s.get) };
      })),
    };
    charts[def.key] = { sig: sig, plot: new uPlot(opts, data, el), kind: def.kind };
  }

  // The report's connections-vs-memory charts: x is connections, a scatter of samples and the fitted line.
  function buildXy(spec, i) {
    var root = document.getElementById('lab-xy-charts');
    if (!root) return;
    var box = document.createElement('div');
    box.className = 'lab-chart-box';
    box.innerHTML = '<h3></h3><div class="lab-figure"></div><div class="lab-chart"></div>';
    box.querySelector('h3').textContent = spec.title;
    box.querySelector('.lab-figure').textContent = spec.figure;
    box.dataset.hasData = spec.x.length ? '1' : '0';
    root.appendChild(box);
    var el = box.querySelector('.lab-chart');
    var opts = {
      width: width(el), height: 280,
      legend: { live: false },
      scales: { x: { time: false, range: function (u, min, max) { return [0, max > 0 ? uPlot.rangeNum(0, max, 0.05, true)[1] : 1]; } }, y: yScale() },
      axes: [{ incrs: COUNT_INCRS, values: tickFormatter('count'), label: 'connections' }, { size: 80, incrs: BYTE_INCRS, values: tickFormatter('bytes') }],
      series: [{ label: 'connections', value: function (u, v, si, idx) { return idx == null ? '' : fmtCount(v); } }].concat(spec.series.map(function (s) {
        var scatter = s.style === 'points';
        return {
          label: s.label, stroke: s.color, width: scatter ? 0 : 2,
          paths: scatter ? function () { return null; } : undefined,
          points: scatter ? { show: true, size: 5, fill: s.color } : { show: false },
          value: function (u, v, si, idx) { return idx == null ? '' : fmtBytes(v); },
        };
      })),
    };
    charts['xy' + i] = { plot: new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el), kind: 'bytes' };
  }

  // ---- status line and components ----------------------------------------------------------------------------
  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (ch) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[ch]; });
  }

  function renderStatus() {
    var lastP = points[points.length - 1];
    var phase = document.getElementById('phase');
    var summary = document.getElementById('summary');
    var comps = document.getElementById('components');
    if (!phase) return;
    // A finished run says how it ended, never the phase it was in when sampling stopped.
    var lastPhase = phases.length ? phases[phases.length - 1].name : lastP ? lastP.phase : '–';
    phase.textContent = finished ? (finished.incomplete ? 'ended: incomplete' : 'finished') : lastPhase;
    phase.dataset.phase = phase.textContent;
    if (!lastP) return;
    summary.textContent = 'server ' + fmtCount(lastP.server) + ' · client ' + fmtCount(lastP.client) + ' of ' + fmtCount(lastP.target) +
      ' connections · ' + fmtSeconds(lastP.t) + ' since the start';
    var rows = Object.keys(lastP.roles).map(function (name) {
      var dead = lastP.down[name];
      return '<tr class="' + (dead ? 'down' : 'up') + '" data-component="' + escapeHtml(name) + '"><td>' + escapeHtml(name) + '</td><td>' + lastP.roles[name] + '</td><td>' +
        (dead ? 'DOWN: ' + escapeHtml(dead) : 'up') + '</td><td>' + (dead ? '–' : fmtBytes(lastP.mem[name])) + '</td><td>' + (dead ? '–' : fmtCores(lastP.cpu[name])) + '</td></tr>';
    });
    comps.innerHTML = '<tr><th>component</th><th>role</th><th>state</th><th>memory</th><th>CPU</th></tr>' + rows.join('');
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
    phases: phases,
    charts: charts,
    chartKeys: CHARTS.map(function (d) { return d.key; }),
    /** The data a chart draws, by chart key and series label: what tests read. */
    series: function (key, label) {
      var c = charts[key];
      if (!c) return [];
      var i = c.plot.series.findIndex(function (s) { return s.label === label; });
      return i < 0 ? [] : Array.prototype.slice.call(c.plot.data[i]);
    },
    /** Every series label of a chart but x. */
    labels: function (key) { var c = charts[key]; return c ? c.plot.series.slice(1).map(function (s) { return s.label; }) : []; },
    /** Idle GCs marked on the memory charts: [{t, count}]. */
    idleGcs: function () { return points.filter(function (p) { return p.idleGc; }).map(function (p) { return p.idleGc; }); },
    /** The y scale's range as drawn. */
    yRange: function (key) { var c = charts[key]; return c ? [c.plot.scales.y.min, c.plot.scales.y.max] : null; },
    load: function (run) {
      points.length = 0; phases.length = 0;
      Array.prototype.push.apply(points, run.points || []);
      Array.prototype.push.apply(phases, run.phases || []);
      render();
    },
    add: function (p) { points.push(p); render(); },
    phase: function (ph) { phases.push(ph); render(); },
    done: function (info) { finished = info || {}; render(); },
  };
  window.cometLab = api;

  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (k) { var el = charts[k].plot.root.parentElement; charts[k].plot.setSize({ width: width(el), height: charts[k].plot.height }); });
  });

  var xy = document.getElementById('lab-xy');
  if (xy) JSON.parse(xy.textContent || '[]').forEach(buildXy);
  var embedded = document.getElementById('lab-run');
  if (embedded) {
    var run = JSON.parse(embedded.textContent || '{}');
    if (run.done) finished = run.done;
    api.load(run);
  }
  if (document.body.dataset.live === '1') {
    var es = new EventSource('events');
    es.addEventListener('history', function (e) { api.load(JSON.parse(e.data)); setConnection('live', true); });
    es.addEventListener('sample', function (e) { api.add(JSON.parse(e.data)); setConnection('live', true); });
    es.addEventListener('phase', function (e) { api.phase(JSON.parse(e.data)); });
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
