/**
 * The live page's HTML, self-contained: uPlot (npm package `uplot`) and the chart script are inlined, so the page
 * needs no network and no CDN. The same function renders the static charts for report.html: pass the points and
 * `live: false`, and the page draws them once instead of following /events.
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

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface ChartsPageOptions {
  title: string;
  /** true: follow the run at ./events (Server-Sent Events); false: draw `points` once. */
  live: boolean;
  points?: LivePoint[];
}

/** The charts section alone (styles, containers, scripts), for embedding into another page such as report.html. */
export function renderChartsSection(options: { points?: LivePoint[] } = {}): string {
  const a = loadAssets();
  const data = options.points ? `<script id="lab-points" type="application/json">${scriptSafe(JSON.stringify(options.points))}</script>` : '';
  return `<style>${a.uplotCss}
.lab-status { display: flex; gap: 1.5em; align-items: baseline; flex-wrap: wrap; }
#phase { font-weight: bold; font-size: 1.3em; padding: 0.1em 0.5em; border-radius: 4px; background: #e8eef8; }
#connection.lost { color: #b00; font-weight: bold; }
#components { border-collapse: collapse; margin: 0.5em 0; }
#components td, #components th { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
#components tr.down td { color: #b00; font-weight: bold; }
#errors { color: #b00; }
.lab-chart { margin: 1em 0; }
</style>
<div class="lab-status"><span>phase <span id="phase">–</span></span><span id="summary"></span><span id="connection"></span></div>
<table id="components"></table>
<ul id="errors"></ul>
<div class="lab-chart" id="chart-connections"></div>
<div class="lab-chart" id="chart-memory"></div>
<div class="lab-chart" id="chart-perConnection"></div>
${data}
<script>${a.uplotJs}</script>
<script>${a.charts}</script>`;
}

/** A whole HTML page with the charts. */
export function renderChartsPage(options: ChartsPageOptions): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>body { font-family: system-ui, sans-serif; margin: 1em 20px; color: #222; } h1 { font-size: 1.3em; }</style>
</head>
<body data-live="${options.live ? '1' : '0'}">
<h1>${escapeHtml(options.title)}</h1>
${renderChartsSection(options.live ? {} : { points: options.points ?? [] })}
</body></html>
`;
}
