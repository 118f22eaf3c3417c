/**
 * The comparison's chart: every server's connections-vs-memory points over the ramp and hold on one set of axes,
 * with each one's fitted line, drawn by the report's own chart script (the same as report.html's
 * connections-vs-memory charts: y in bytes from 0). The series have different x values, so x is their union and each
 * series is null where it has no point.
 */
import type { XyChart } from '../live/live-page.ts';
import type { LoadedRun } from './compare-rows.ts';

type ChartSeries = XyChart['series'][number];
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

export function overlayChart(runs: LoadedRun[], labels: string[]): XyChart {
  const curves = runs.map((run) => {
    const pts = new Map<number, number>();
    for (const row of run.table.rows) {
      if (!['up', 'ramp', 'hold'].includes(row.phase)) continue;
      const x = row.values.get('server_connections'), y = row.values.get('server_ws_bytes');
      if (x !== undefined && y !== undefined) pts.set(x, y);
    }
    return pts;
  });
  const xs = [...new Set(curves.flatMap((c) => [...c.keys()]))].sort((a, b) => a - b);
  const series: ChartSeries[] = [];
  runs.forEach((run, i) => {
    const color = COLORS[i % COLORS.length]!;
    const c = curves[i]!;
    if (c.size === 0) return; // memory not measured: no curve (the table says so)
    series.push({ label: labels[i]!, values: xs.map((x) => c.get(x) ?? null), style: 'points', color });
    const fit = run.summary.memory.server.fit;
    if (fit) {
      const lo = Math.min(...c.keys()), hi = Math.max(...c.keys());
      series.push({
        label: `${labels[i]} fit ${(fit.slope / 1024).toFixed(2)} KiB/conn`,
        values: xs.map((x) => (x >= lo && x <= hi ? fit.intercept + fit.slope * x : null)),
        style: 'line',
        color,
      });
    }
  });
  return { title: 'Server memory against connections held (every server, kernel count)', figure: labels.join(' · '), x: xs, series };
}
