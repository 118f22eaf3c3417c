/**
 * compare.md: one row per target, the figures side by side with their ratio to the best row, then how each figure
 * was measured, and per row what it could not do. A figure a row did not measure is `n/a`, never 0.
 */
import { MIN_R2 } from '../report/summarize.ts';
import type { CompareReport } from './compare-report.ts';
import { RATIO_FIGURES, type CompareRow, type RatioKey } from './compare-rows.ts';

const fix = (v: number | undefined, d = 2) => (v === undefined ? 'n/a' : v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const int = (v: number | undefined) => (v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US'));

function withRatio(text: string, ratio: number | undefined): string {
  if (ratio === undefined) return text;
  return ratio < 1.005 ? `**${text}** (best)` : `${text} (x${ratio.toFixed(2)})`;
}

const METHOD_TEXT: Record<NonNullable<CompareRow['kibMethod']>, string> = {
  'ramp-slope': 'ramp slope',
  'growth-over-base': 'growth over base',
  'total-over-n': 'total/N',
};

/** The headline KiB per connection, how it was measured (the fit's R² beside a slope or where the slope was set aside). */
function kibCell(r: CompareRow, ratio: number | undefined): string {
  if (!r.memoryMeasured) return 'not measured';
  if (r.kibMethod === undefined) return 'n/a';
  const r2 = r.fitR2 === undefined ? '' : r.kibMethod === 'ramp-slope' ? `, R² ${r.fitR2.toFixed(2)}` : ` (slope's R² ${r.fitR2.toFixed(2)})`;
  return `${withRatio(fix(r.kibPerConnection), ratio)} ${METHOD_TEXT[r.kibMethod]}${r2}`;
}

/** A line when rows were measured differently: the memory column ranks each row only among rows measured its way. */
function methodsNote(rows: CompareRow[]): string[] {
  const ways = [...new Set(rows.map((r) => r.kibMethod).filter((m) => m !== undefined))];
  if (ways.length < 2) return [];
  const groups = ways.map((w) => `${METHOD_TEXT[w]}: ${rows.filter((r) => r.kibMethod === w).map((r) => r.label).join(', ')}`);
  return ['', `The rows' KiB per connection were measured in ${ways.length} ways (${groups.join('; ')}): each is ranked only against the rows measured its way, never across.`];
}

function errorsCell(r: CompareRow): string {
  const causes = Object.entries(r.errors).map(([c, v]) => `${c} ${v.toLocaleString('en-US')}`);
  return r.errorsTotal === 0 ? '0' : `${r.errorsTotal.toLocaleString('en-US')}: ${causes.join(', ')}`;
}

export function renderCompareMd(rep: CompareReport): string {
  const rows = rep.rows;
  const ratio = (i: number, k: RatioKey) => rep.ratios[i]?.[k];
  const mem = (r: CompareRow, v: number | undefined) => (r.memoryMeasured ? fix(v) : 'not measured');
  const lines = [
    `# comet-lab compare: ${int(rep.n)} connections, ${rows.length} servers`,
    '',
    `${rep.source === 'runs' ? `The same flood against each server, one after the other, on this host with one plan (${rep.planText}).` : `Earlier runs compared (\`report --compare\`).`} Created ${rep.createdAt}.`,
    '',
    '| server | held (kernel) | KiB/conn (how) | KiB/conn total/N | of growth: user / kernel KiB | CPU µs per conn·s | CPU µs per chunk | connect rate /s | chunks delivered | errors | fan-out ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r, i) => [
      `**${r.label}**${r.complete ? '' : ' (INCOMPLETE)'}`,
      `${int(r.reachedServer)} of ${int(r.n)}`,
      kibCell(r, ratio(i, 'kibPerConnection')),
      r.memoryMeasured ? withRatio(fix(r.kibTotalPerConnection), ratio(i, 'kibTotalPerConnection')) : 'not measured',
      r.memoryMeasured ? `${mem(r, r.userKibPerConnection)} / ${mem(r, r.kernelKibPerConnection)}` : 'not measured',
      r.cpuMicrosPerConnectionSecond === 0 && r.cpuResolutionMicros ? `< ${fix(r.cpuResolutionMicros)} (no tick)` : withRatio(fix(r.cpuMicrosPerConnectionSecond), ratio(i, 'cpuMicrosPerConnectionSecond')),
      withRatio(fix(r.cpuMicrosPerChunk, 1), ratio(i, 'cpuMicrosPerChunk')),
      withRatio(int(r.connectRate), ratio(i, 'connectRate')),
      r.chunksDeliveredPct === undefined ? 'no heartbeat' : withRatio(`${fix(r.chunksDeliveredPct, 1)}%`, ratio(i, 'chunksDeliveredPct')),
      errorsCell(r),
      r.fanOutMs === undefined ? (r.skipped.some((k) => k.startsWith('broadcast')) ? 'no broadcast' : 'not run') : withRatio(fix(r.fanOutMs, 0), ratio(i, 'fanOutMs')),
    ].join(' | ')).map((l) => `| ${l} |`),
    '',
    `Ratios in brackets are to the best row of each column (${RATIO_FIGURES.map((f) => f.name).join(', ')}): x2.00 is twice the cost, or half the rate.`,
    ...methodsNote(rows),
    '',
    '## How each figure is measured',
    '',
    '- **held (kernel)**: most established TCP connections on the server\'s port from the load generators\' addresses, counted by the kernel (sock_diag through `ss`), the same way for every server.',
    `- **KiB/conn (how)**: the figure each run's own report headlines, and how it was measured: the least-squares slope of the server's memory (cgroup: usage - inactive file, kernel memory included) against that count over the ramp where its fit is reliable (R² >= ${MIN_R2}, R² beside it), else the growth over the first sample at the hold per connection, else total/N. A row is ranked only against rows measured the same way. **total/N**: the memory over the hold divided by the connections, the process's base included.`,
    '- **user / kernel**: the growth above the first sample at the hold, per connection, split by the cgroup\'s kernel memory (v1 memory.kmem.usage_in_bytes: socket, inode and file slabs, epoll items) and the rest (user space).',
    '- **CPU**: user + system time of the server\'s processes over the hold (/proc/<pid>/stat, or docker stats), per held connection per second, and per chunk the load generators received (only where a heartbeat sends chunks).',
    '- **connect rate**: connections reached / time to reach them (load generators\' count). **chunks delivered**: received over the hold / (held x seconds / heartbeat), where the server sends a heartbeat. **fan-out**: one broadcast, publish to last arrival.',
    '',
    '## Servers',
    '',
    ...rows.flatMap((r) => [
      `- **${r.label}** (\`${r.target}\`): ${r.dir}`,
      ...(r.memoryNote ? [`  - memory: ${r.memoryNote}`] : []),
      ...r.skipped.map((k) => `  - skipped ${k}`),
      ...(r.incomplete ? [`  - INCOMPLETE: ${r.incomplete}`] : []),
      ...(r.thresholdsFailed ? [`  - ${r.thresholdsFailed} threshold(s) failed (its report lists them)`] : []),
    ]),
    '',
    'Files: `compare.json` (these rows and ratios), `compare.html` (the table and every server\'s connections-vs-memory curve on one chart); each server\'s own report in its folder.',
    '',
  ];
  return lines.join('\n');
}
