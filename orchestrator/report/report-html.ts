/**
 * report.html: report.md's text and the charts (connections vs memory per component with the fit line, and
 * connections over time), in one file that opens in a browser with no network.
 */
import { connectionsChart, memoryCharts, renderCharts } from './charts.ts';
import { renderChartsSection } from '../live/live-page.ts';
import { livePointsFromSamples } from '../live/points-from-samples.ts';
import type { SamplesTable } from './samples-table.ts';
import type { Summary } from './summarize.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function renderReportHtml(summary: Summary, table: SamplesTable, markdown: string): string {
  const title = `comet-lab flood: ${summary.n} connections, ${summary.backend}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:20px;max-width:960px} pre{white-space:pre-wrap;background:#f6f6f6;padding:12px} .lab-chart{margin:16px 0}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>${summary.complete ? 'Run complete.' : `<strong>INCOMPLETE</strong>: ${escapeHtml(summary.incomplete ?? '')}`}</p>
${summary.targetReached ? '' : `<p><strong>TARGET MISSED</strong>: ${summary.reached.client} of ${summary.n} connections were held at most.</p>`}
${renderCharts([...memoryCharts(table, summary), connectionsChart(table)])}
<h2>Over time (the live page's charts)</h2>
${renderChartsSection({ points: livePointsFromSamples(table) })}
<h2>Report</h2>
<pre>${escapeHtml(markdown)}</pre>
</body></html>
`;
}
