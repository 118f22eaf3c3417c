/**
 * The live page's HTML, self-contained: uPlot (npm package `uplot`) and the chart script are inlined, so the page
 * needs no network and no CDN. report.html uses the same pieces (styles, status, time charts, scripts) with the
 * run's points embedded, so both pages draw the same figures the same way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LivePoint } from './live-point.ts';

const require = createRequire(import.meta.url);
let assets: { uplotJs: string; uplotCss: string; charts: string } | undefined;

function loadAssets() {
  assets ??= {
    uplotJs: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    charts: readFileSync(new URL('./live-charts.client.js', import.meta.url), 'utf8'),
  };
  return assets;
}

/** Inside <script>, `</script` or `<!--` in data would end or confuse the element; escape `<` in JSON. */
function scriptSafe(text: string): string {
  return text.replace(/</g, '\\u003c');
}

export const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Where a phase began, on the run's clock (seconds since its start). */
export interface PhaseMark {
  name: string;
  t: number;
}

/** A whole run for a static page: its points, its phases and how it ended. */
export interface StaticRun {
  points: LivePoint[];
  phases: PhaseMark[];
  done: { incomplete?: boolean; reason?: string };
}

/** A chart with connections on x (the report's memory-vs-connections scatter with its fitted line). */
export interface XyChart {
  title: string;
  /** The key figure, written above the chart in large type. */
  figure: string;
  x: number[];
  series: Array<{ label: string; values: Array<number | null>; style: 'points' | 'line'; color: string }>;
}

export interface ChartsPageOptions {
  title: string;
  /** true: follow the run at ./events (Server-Sent Events); false: draw `run` once. */
  live: boolean;
  run?: StaticRun;
}

/** The time charts: one box each (title, key figure, chart), in the order the client script knows them. */
const TIME_CHARTS = ['connections', 'memory', 'perConnection', 'chunks', 'messages', 'latency', 'errors', 'cpu'];

/** Styles, uPlot and the chart script, once per page. */
export function chartStyles(): string {
  return `<style>${loadAssets().uplotCss}
.lab-status { display: flex; gap: 1.5em; align-items: baseline; flex-wrap: wrap; }
#phase { font-weight: bold; font-size: 1.3em; padding: 0.1em 0.5em; border-radius: 4px; background: #e8eef8; }
#connection.lost { color: #b00; font-weight: bold; }
#components { border-collapse: collapse; margin: 0.5em 0; }
#components td, #components th { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
#components tr.down td { color: #b00; font-weight: bold; }
#errors { color: #b00; }
.lab-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 0.5em 1.5em; }
.lab-chart-box h3 { margin: 0.8em 0 0.1em; font-size: 1em; font-weight: 600; color: #444; }
.lab-figure { font-size: 1.35em; font-weight: 600; margin-bottom: 0.2em; }
.lab-chart-box[data-has-data="0"] .lab-chart { display: none; }
.lab-chart-box[data-has-data="0"] .lab-figure { color: #888; font-size: 1em; font-weight: normal; }
</style>`;
}

/** The scripts that draw the charts: uPlot and the chart script, after the containers and the embedded data. */
export function chartScripts(): string {
  const a = loadAssets();
  return `<script>${a.uplotJs}</script>
<script>${a.charts}</script>`;
}

/** The report's connections-vs-memory charts: a container and their data (drawn by chartScripts()). */
export function renderXyCharts(xy: XyChart[]): string {
  return `<div class="lab-grid" id="lab-xy-charts"></div>
<script id="lab-xy" type="application/json">${scriptSafe(JSON.stringify(xy))}</script>`;
}

/** The status line, components table and time charts; with `run`, its data embedded (static page). */
export function renderChartsSection(options: { run?: StaticRun } = {}): string {
  const data = options.run ? `<script id="lab-run" type="application/json">${scriptSafe(JSON.stringify(options.run))}</script>` : '';
  const boxes = TIME_CHARTS.map((k) => `<div class="lab-chart-box" data-chart="${k}"><h3 id="title-${k}"></h3><div class="lab-figure" id="figure-${k}"></div><div class="lab-chart" id="chart-${k}"></div></div>`);
  return `<div class="lab-status"><span>phase <span id="phase">–</span></span><span id="summary"></span><span id="connection"></span></div>
<table id="components"></table>
<ul id="errors"></ul>
<div class="lab-grid">
${boxes.join('\n')}
</div>
${data}`;
}

/** A whole HTML page with the charts. */
export function renderChartsPage(options: ChartsPageOptions): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>body { font-family: system-ui, sans-serif; margin: 1em 20px; color: #222; } h1 { font-size: 1.3em; }</style>
${chartStyles()}
</head>
<body data-live="${options.live ? '1' : '0'}">
<h1>${escapeHtml(options.title)}</h1>
${renderChartsSection(options.live ? {} : { run: options.run ?? { points: [], phases: [], done: {} } })}
${chartScripts()}
</body></html>
`;
}
