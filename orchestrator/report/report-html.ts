/**
 * report.html: a headline card (the figures a reader wants first, each taken from summary.json and tagged with its
 * field, so a test can hold the card to the file), the connections-vs-memory charts, the run's time charts (the live
 * page's, drawn from samples.csv), then report.md's tables rendered as HTML by `marked`. One file, no network.
 */
import { Marked } from 'marked';
import { chartScripts, chartStyles, escapeHtml, renderChartsSection, renderXyCharts, type StaticRun } from '../live/live-page.ts';
import { heartbeatSeconds } from '../live/live-point.ts';
import { livePointsFromSamples } from '../live/points-from-samples.ts';
import { memoryCharts } from './charts.ts';
import type { RunRecord } from './run-record.ts';
import type { SamplesTable } from './samples-table.ts';
import type { Summary } from './summarize.ts';
import type { SummaryV1 } from './summary-schema.ts';

/** report.md as HTML; raw HTML in it (a component's stderr line quoted in an error) is shown as text, never run. */
const markdown = new Marked({ renderer: { html: ({ text }) => escapeHtml(text) } });

const num = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One figure of the card: `field` is its dotted path in summary.json, `value` the number there. */
interface Tile {
  label: string;
  field?: string;
  value?: number;
  text: string;
  detail: string;
  tone?: 'good' | 'bad';
}

function memoryTile(label: string, field: 'server' | 'loadgen', m: SummaryV1['server']): Tile {
  if (m.kibPerConnection === undefined) return { label, text: 'not measured', detail: `probe ${m.method}` };
  const method = m.perConnectionMethod === 'ramp-slope' ? 'ramp slope' : m.perConnectionMethod === 'growth-over-base' ? 'growth over the base' : 'total / N';
  const r2 = m.fit ? `fit R² ${m.fit.r2.toFixed(3)}${m.fit.reliable ? '' : ': unreliable, so not the slope'}` : 'no fit';
  return { label, field: `${field}.kibPerConnection`, value: m.kibPerConnection, text: `${num(m.kibPerConnection, 2)} KiB`, detail: `per connection · ${method} · ${r2} · ${m.method}` };
}

export function headlineTiles(d: SummaryV1): Tile[] {
  const c = d.connections;
  const tiles: Tile[] = [
    { label: 'connections held', field: 'connections.reachedClient', value: c.reachedClient, text: `${num(c.reachedClient)} of ${num(c.asked)}`,
      detail: `${num(c.reachedPct, 1)}% of N · server counted ${num(c.reachedServer)}`, tone: c.targetReached ? 'good' : 'bad' },
    memoryTile('server memory', 'server', d.server),
    memoryTile('load-generator memory', 'loadgen', d.loadgen),
    c.rampRate === undefined
      ? { label: 'ramp rate', text: 'n/a', detail: `asked ${num(c.askedRate)}/s` }
      : { label: 'ramp rate', field: 'connections.rampRate', value: c.rampRate, text: `${num(c.rampRate)}/s`,
          detail: `asked ${num(c.askedRate)}/s · ${c.secondsToTarget === undefined ? `N not reached (ramp ${c.rampEndedBy ?? 'n/a'})` : `N in ${num(c.secondsToTarget, 1)} s`}` },
    d.chunks.applies && d.chunks.deliveredPct !== undefined
      ? { label: 'heartbeat chunks delivered', field: 'chunks.deliveredPct', value: d.chunks.deliveredPct, text: `${num(d.chunks.deliveredPct, 1)}%`,
          detail: `${num(d.chunks.received ?? 0)} of ${num(d.chunks.expected ?? 0)} expected over the hold`, tone: d.chunks.deliveredPct >= 99 ? 'good' : 'bad' }
      : { label: 'heartbeat chunks delivered', text: 'n/a', detail: d.chunks.note ?? 'the hold was too short to measure' },
    { label: 'connection errors', field: 'errors.total', value: d.errors.total, text: num(d.errors.total),
      detail: Object.entries(d.errors.byCause).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${num(n)}`).join(' · ') || 'none', tone: d.errors.total === 0 ? 'good' : 'bad' },
  ];
  if (d.sends) {
    tiles.push({ label: 'routed sends', field: 'sends.sustainedRate', value: d.sends.sustainedRate, text: `${num(d.sends.sustainedRate)}/s`,
      detail: `asked ${num(d.sends.askedRate)}/s${d.sends.delivery ? ` · delivery p99 ${num(d.sends.delivery.p99Ms, 1)} ms` : ''}` });
  } else tiles.push({ label: 'routed sends', text: 'not run', detail: '--sends-rate' });
  if (d.broadcast && d.broadcast.fanOutMs !== undefined) {
    tiles.push({ label: 'broadcast fan-out', field: 'broadcast.fanOutMs', value: d.broadcast.fanOutMs, text: `${num(d.broadcast.fanOutMs)} ms`,
      detail: `${num(d.broadcast.receivedPct, 1)}% of ${num(d.broadcast.expected)} reached · last arrival - publish`, tone: d.broadcast.complete ? 'good' : 'bad' });
  } else tiles.push({ label: 'broadcast fan-out', text: d.broadcast ? 'not measured' : 'not run', detail: d.broadcast ? 'no delivery counted' : '--broadcast' });
  const th = d.thresholds;
  if (th?.length) {
    const failed = th.filter((t) => !t.passed).length;
    tiles.push({ label: 'thresholds', text: `${th.length - failed} passed, ${failed} failed`, detail: th.map((t) => `${t.passed ? '✓' : '✗'} ${t.expression}`).join(' · '), tone: failed ? 'bad' : 'good' });
  } else tiles.push({ label: 'thresholds', text: 'none set', detail: '--threshold' });
  return tiles;
}

function renderCard(d: SummaryV1): string {
  const tiles = headlineTiles(d).map((t) => {
    const data = t.field ? ` data-field="${t.field}" data-value="${t.value}"` : '';
    return `<div class="tile${t.tone ? ` ${t.tone}` : ''}"${data}><div class="label">${escapeHtml(t.label)}</div><div class="value">${escapeHtml(t.text)}</div><div class="detail">${escapeHtml(t.detail)}</div></div>`;
  });
  const tone = d.run.verdict === 'passed' ? 'good' : 'bad';
  return `<section id="headline">
<div class="verdict ${tone}" data-field="run.verdict" data-text="${escapeHtml(d.run.verdict)}">${escapeHtml(d.run.verdictText)}</div>
<div class="tiles">${tiles.join('\n')}</div>
</section>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:20px auto;max-width:1200px;padding:0 20px;color:#222}
h1{font-size:1.4em;margin-bottom:0.2em} .sub{color:#555;margin-top:0}
#headline{border:1px solid #ccd;border-radius:8px;padding:12px 16px;background:#f8f9fc;margin:12px 0 20px}
.verdict{font-size:1.25em;font-weight:700;margin-bottom:10px} .verdict.good{color:#176a2c} .verdict.bad{color:#b00}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px}
.tile{background:#fff;border:1px solid #dde;border-radius:6px;padding:8px 10px}
.tile .label{font-size:0.85em;color:#555;text-transform:uppercase;letter-spacing:0.03em}
.tile .value{font-size:1.6em;font-weight:700;margin:2px 0} .tile.good .value{color:#176a2c} .tile.bad .value{color:#b00}
.tile .detail{font-size:0.85em;color:#444}
#details table{border-collapse:collapse;margin:8px 0} #details td,#details th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
#details th{background:#f1f3f8} #details code{background:#f3f3f3;padding:0 3px}`;

export function renderReportHtml(summary: Summary, doc: SummaryV1, record: RunRecord, table: SamplesTable, md: string): string {
  const title = `comet-lab flood: ${num(summary.n)} ${doc.run.transport} connections, ${summary.backend} backend`;
  const startMs = record.outcome?.startedAtMs ?? table.rows[0]?.values.get('at_ms') ?? 0;
  const run: StaticRun = {
    points: livePointsFromSamples(table, { heartbeatSeconds: heartbeatSeconds(record.plan) }),
    phases: (record.outcome?.phases ?? []).map((p) => ({ name: p.name, t: Math.round(p.startMs - startMs) / 1000 })),
    done: summary.complete ? { incomplete: false } : { incomplete: true, reason: summary.incomplete },
  };
  // report.md's title and status line are the card above; its sections follow as HTML.
  const details = md.slice(Math.max(0, md.indexOf('\n## ')));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
${chartStyles()}
</head><body data-live="0">
<h1>${escapeHtml(title)}</h1>
<p class="sub">${escapeHtml(doc.run.startedAt)} · ${num(doc.run.durationSeconds, 1)} s · heartbeat ${num(doc.run.heartbeatSeconds, 1)} s · figures from samples.csv and run.json (summary.json holds them as data)</p>
${renderCard(doc)}
<h2>Memory against connections</h2>
${renderXyCharts(memoryCharts(table, summary))}
<h2>Over time</h2>
${renderChartsSection({ run })}
<h2>Details</h2>
<div id="details">${markdown.parse(details, { async: false })}</div>
${chartScripts()}
</body></html>
`;
}
