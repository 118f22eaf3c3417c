/**
 * The report's connections-vs-memory charts as data: per side, every ramp and hold sample as a point (connections,
 * bytes) and the fitted line, with the side's headline figure as the chart's key figure. The live page's chart
 * script draws them (live/live-charts.client.js), y from 0 in 1-2-5 steps of KiB/MiB.
 */
import type { XyChart } from '../live/live-page.ts';
import type { SamplesTable } from './samples-table.ts';
import type { MemoryFigures, Summary } from './summarize.ts';

const kib = (b: number) => `${(b / 1024).toFixed(2)} KiB`;

/** The key figure of one side: its headline per connection, how it was computed, and the fit's R². */
export function memoryFigureText(m: MemoryFigures): string {
  const h = m.perConnection;
  if (!h) return 'not measured';
  const method = h.method === 'ramp-slope' ? 'ramp slope' : h.method === 'growth-over-base' ? 'growth over the base at the hold' : 'total/N at the hold';
  const r2 = m.fit ? `, fit R² ${m.fit.r2.toFixed(3)}${h.method === 'ramp-slope' ? '' : ' (unreliable)'}` : '';
  return `${kib(h.bytes)} per connection (${method}${r2}; ${m.method || 'unknown probe'})`;
}

export function memoryCharts(table: SamplesTable, summary: Summary): XyChart[] {
  const groups = [
    { title: 'Server: memory against connections', m: summary.memory.server, xCol: 'server_connections', color: '#1f77b4' },
    { title: 'Load generators: memory against connections', m: summary.memory.loadgen, xCol: 'client_active', color: '#d62728' },
  ];
  return groups.map((g) => {
    const pts: Array<[number, number]> = [];
    for (const row of table.rows) {
      if (!['up', 'ramp', 'hold'].includes(row.phase)) continue;
      const x = row.values.get(g.xCol);
      const ys = g.m.components.map((c) => row.values.get(`${c}_ws_bytes`));
      if (x === undefined || ys.length === 0 || ys.some((y) => y === undefined)) continue;
      pts.push([x, ys.reduce((a, b) => a! + b!, 0)!]);
    }
    pts.sort((a, b) => a[0] - b[0]);
    const series: XyChart['series'] = [{ label: `working set (${g.m.method || 'memory'}), one point per sample`, values: pts.map((p) => p[1]), style: 'points', color: g.color }];
    const fit = g.m.fit;
    if (fit) {
      series.push({
        label: `least-squares line over the ${g.m.fitPhases ?? 'ramp'} (R² ${fit.r2.toFixed(3)})`,
        values: pts.map((p) => fit.intercept + fit.slope * p[0]),
        style: 'line',
        color: '#2ca02c',
      });
    }
    return { title: g.title, figure: memoryFigureText(g.m), x: pts.map((p) => p[0]), series };
  });
}
