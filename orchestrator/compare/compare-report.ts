/**
 * Writes a comparison folder (`reports/<UTC>-compare-<N>/`): compare.json (rows, ratios, where each run is),
 * compare.md and compare.html (the table and the overlay chart), computed only from the runs' folders, so
 * `report --compare` on earlier folders and `compare` after its runs make the same report.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Marked } from 'marked';
import { chartScripts, chartStyles, escapeHtml, renderXyCharts } from '../live/live-page.ts';
import { overlayChart } from './compare-chart.ts';
import { renderCompareMd } from './compare-md.ts';
import { compareRow, ratiosToBest, rowLabels, type CompareRow, type LoadedRun, type RatioKey } from './compare-rows.ts';

export interface CompareReport {
  /** `runs`: made by `compare` now; `folders`: earlier runs given to `report --compare`. */
  source: 'runs' | 'folders';
  createdAt: string;
  n: number;
  /** One line about the plan every run shared. */
  planText: string;
  rows: CompareRow[];
  ratios: Array<Partial<Record<RatioKey, number>>>;
}

export function buildCompareReport(runs: LoadedRun[], source: CompareReport['source'], planText = ''): CompareReport {
  const labels = rowLabels(runs);
  const rows = runs.map((r, i) => compareRow(r, labels[i]));
  return { source, createdAt: new Date().toISOString(), n: Math.max(...rows.map((r) => r.n)), planText, rows, ratios: ratiosToBest(rows) };
}

/** compare.md as HTML; raw HTML in it (a cmd: target's own text) is shown as text, never run. */
const markdown = new Marked({ renderer: { html: ({ text }) => escapeHtml(text) } });

export function writeCompareReport(dir: string, runs: LoadedRun[], report: CompareReport): void {
  const md = renderCompareMd(report);
  writeFileSync(join(dir, 'compare.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'compare.md'), md);
  const title = `comet-lab compare: ${report.n} connections`;
  writeFileSync(join(dir, 'compare.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:20px;max-width:1200px} table{border-collapse:collapse;font-size:14px} td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
${chartStyles()}
</head><body>
${markdown.parse(md, { async: false })}
<h2>Connections against memory, every server</h2>
${renderXyCharts([overlayChart(runs, rowLabels(runs))])}
${chartScripts()}
</body></html>
`);
}
