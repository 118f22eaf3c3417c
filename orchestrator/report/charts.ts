/**
 * Charts as data plus one renderer: `memoryCharts()` turns a run's samples into "connections vs memory" series per
 * component group with the fitted line, `renderCharts()` turns any ChartSpec list into self-contained HTML (uPlot
 * and its CSS inlined from node_modules, no network). The live page can render its own specs with the same function.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SamplesTable } from './samples-table.ts';
import type { Summary } from './summarize.ts';

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  /** points: a scatter (no line); line: a line without points. */
  style: 'points' | 'line';
  color: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[]; // ascending
  series: ChartSeries[];
}

const MIB = 2 ** 20;

/** Connections (x) against memory in MiB (y) for the server and for the load generators, ramp and hold samples. */
export function memoryCharts(table: SamplesTable, summary: Summary): ChartSpec[] {
  const groups = [
    { title: 'Server: connections vs memory', m: summary.memory.server, xCol: 'server_connections', color: '#1f77b4' },
    { title: 'Load generators: connections vs memory', m: summary.memory.loadgen, xCol: 'client_active', color: '#d62728' },
  ];
  const specs: ChartSpec[] = [];
  for (const g of groups) {
    const pts: Array<[number, number]> = [];
    for (const row of table.rows) {
      if (!['up', 'ramp', 'hold'].includes(row.phase)) continue;
      const x = row.values.get(g.xCol);
      const ys = g.m.components.map((c) => row.values.get(`${c}_ws_bytes`));
      if (x === undefined || ys.length === 0 || ys.some((y) => y === undefined)) continue;
      pts.push([x, ys.reduce((a, b) => a! + b!, 0)! / MIB]);
    }
    pts.sort((a, b) => a[0] - b[0]);
    const fit = g.m.fit;
    const series: ChartSeries[] = [{ label: `${g.m.method || 'memory'} working set (MiB)`, values: pts.map((p) => p[1]), style: 'points', color: g.color }];
    if (fit) {
      series.push({
        label: `fit: ${(fit.slope / 1024).toFixed(2)} KiB/conn + ${(fit.intercept / MIB).toFixed(0)} MiB (R² ${fit.r2.toFixed(3)})`,
        values: pts.map((p) => (fit.intercept + fit.slope * p[0]) / MIB),
        style: 'line',
        color: '#2ca02c',
      });
    }
    specs.push({ title: g.title, xLabel: 'connections', yLabel: 'MiB', x: pts.map((p) => p[0]), series });
  }
  return specs;
}

/** Connections over time, as each side counts them. */
export function connectionsChart(table: SamplesTable): ChartSpec {
  const t = table.rows.map((r) => r.values.get('t_s') ?? 0);
  const col = (name: string) => table.rows.map((r) => r.values.get(name) ?? null);
  return {
    title: 'Connections over time',
    xLabel: 'seconds',
    yLabel: 'connections',
    x: t,
    series: [
      { label: 'server (kernel count)', values: col('server_connections'), style: 'line', color: '#1f77b4' },
      { label: 'client (/status active)', values: col('client_active'), style: 'line', color: '#d62728' },
    ],
  };
}

const require = createRequire(import.meta.url);
let uplot: { js: string; css: string } | undefined;

function uplotAssets() {
  uplot ??= {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
  return uplot;
}

/** `<` is escaped so no data can close the script element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/** Self-contained HTML (styles, containers, uPlot, data, drawing code) for the given charts. */
export function renderCharts(specs: ChartSpec[]): string {
  const a = uplotAssets();
  return `<style>${a.css}</style>
<div id="lab-charts"></div>
<script>${a.js}</script>
<script id="lab-chart-specs" type="application/json">${scriptJson(specs)}</script>
<script>
(function () {
  var specs = JSON.parse(document.getElementById('lab-chart-specs').textContent);
  var root = document.getElementById('lab-charts');
  specs.forEach(function (spec) {
    var box = document.createElement('div');
    box.className = 'lab-chart';
    root.appendChild(box);
    var series = [{ label: spec.xLabel }].concat(spec.series.map(function (s) {
      return s.style === 'points'
        ? { label: s.label, stroke: s.color, paths: function () { return null; }, points: { show: true, size: 5, fill: s.color } }
        : { label: s.label, stroke: s.color, width: 2, points: { show: false } };
    }));
    new uPlot({
      title: spec.title, width: Math.min(900, window.innerWidth - 40), height: 320, series: series,
      axes: [{ label: spec.xLabel }, { label: spec.yLabel }], scales: { x: { time: false } },
    }, [spec.x].concat(spec.series.map(function (s) { return s.values; })), box);
  });
})();
</script>`;
}
