/**
 * README's `bench` section, regenerated from the results files: for each part (the memory stage, each flood size,
 * each target) the newest file that measured it, named beside it, so a run of one stage never hides the figures
 * of another. Only the text between `<!-- section:bench -->` and `<!-- /section:bench -->` is replaced.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { LabError } from '../../shared/errors.ts';
import type { BenchResults, TargetCheck } from './results.ts';
import { checkTargets } from './targets.ts';
import { cpuPerChunk } from '../flood/flood-figures.ts';
import { fmtInt, kb, ms, pct, verdict } from './format.ts';
import { PAIR_TARGET_IDS } from './pair-targets.ts';
import { compareBroadcast, compareCpu, roundsText } from '../pairs/pair-figures.ts';

const START = '<!-- section:bench -->';
const END = '<!-- /section:bench -->';

export interface Loaded {
  file: string; // name of the .md beside the .json
  results: BenchResults;
}

/** Results files of a folder, newest first (names start with the UTC time, so they sort by it). */
export function loadResults(dir: string): Loaded[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().reverse();
  } catch {
    return [];
  }
  const out: Loaded[] = [];
  for (const name of names) {
    try {
      const results = JSON.parse(readFileSync(join(dir, name), 'utf8')) as BenchResults;
      // Targets are re-checked from the figures, so the table follows the current checks and wording.
      if (results.version !== 1) continue;
      // CPU per chunk again with today's rule (an unusable or missing server chunk count is replaced by the received count).
      for (const f of results.floods) Object.assign(f.cpu, cpuPerChunk(f.cpu));
      out.push({ file: name.replace(/\.json$/, '.md'), results: { ...results, targets: checkTargets(results) } });
    } catch {
      // a half-written or foreign file: not ours to show
    }
  }
  return out;
}

/** The issue's headline heartbeat: the targets are stated at it. */
export const HEADLINE_INTERVAL_SECONDS = 10;
/** Targets checked from the memory stage (one worker, idle connections); every other target comes from a flood. */
const MEMORY_TARGETS = new Set(['server-4kb', 'server-vs-floor', 'nchan-vs-server', 'memory-vs-floor-1.2']);
/** Targets checked from the stages against the C pair: they carry their own rates and heartbeats, not the floods'. */
const PAIR_TARGETS = new Set(PAIR_TARGET_IDS);

/** The heartbeat a target's figure was taken at: the memory stage's or the floods'. */
function heartbeatOf(t: TargetCheck, r: BenchResults): number | undefined {
  if (MEMORY_TARGETS.has(t.id)) return r.memory?.intervalSeconds;
  if (PAIR_TARGETS.has(t.id)) return t.id.startsWith('broadcast') ? r.broadcast?.intervalSeconds : undefined;
  return r.floods[0]?.chunks.intervalSeconds ?? (r.config.intervalSeconds === undefined ? undefined : Number(r.config.intervalSeconds));
}

/**
 * For each target, the run that best measured it: a measurement beats 'not measured'; for flood targets one at the
 * headline heartbeat beats one at another heartbeat (a million held at 60 s says nothing about 10 s); one at the
 * target's own N beats a smaller N; then the newest (`all` is newest first).
 */
export function pickTargets(all: Loaded[]): Map<string, { file: string; t: TargetCheck; interval?: number }> {
  const score = (t: TargetCheck, interval: number | undefined) =>
    (t.met !== null ? 4 : 0) + (MEMORY_TARGETS.has(t.id) || PAIR_TARGETS.has(t.id) || interval === HEADLINE_INTERVAL_SECONDS ? 2 : 0) + (t.atN === undefined ? 1 : 0);
  const out = new Map<string, { file: string; t: TargetCheck; interval?: number; score: number }>();
  for (const l of all) {
    for (const t of l.results.targets) {
      const interval = heartbeatOf(t, l.results);
      const s = score(t, interval);
      const have = out.get(t.id);
      if (!have || s > have.score) out.set(t.id, { file: l.file, t, interval, score: s });
    }
  }
  return out;
}

export function renderBenchSection(all: Loaded[], linkBase: string): string {
  const link = (f: string) => `[${basename(f, '.md')}](${linkBase}/${f})`;
  const lines = [
    '## Scale benchmark (`bench/`)',
    '',
    '```sh',
    'make bench                                          # every stage; floods at 100,000 and 1,000,000',
    'make bench ARGS="--only memory"                     # stage 1 only: every engine, nginx floor, nchan, mochiweb',
    'make bench ARGS="--only cpu,broadcast"              # against the C pair: CPU per chunk, one broadcast to 100,000',
    'make bench ARGS="--only flood,fanout,sends --n 100000 --interval 10s"',
    'make bench ARGS="--only flood,fanout --n 1000000 --interval 120s --rate 2000 --hold 120s --time-limit 16m --force"',
    'make bench ARGS="--only flood,fanout,sends --n 100000 --transport ws"   # WebSocket floods: their own rows; targets stay chunked',
    '```',
    '',
    'Run it under `flock /tmp/comet-lab-heavy.lock` (the Makefile target does). Stages: **memory** (15,000 idle',
    "connections on one worker per engine, and the same count held by the orchestrator's targets nchan (`http-chunked`",
    "subscriber, a channel per id), mochiweb (the seed's app) and nginx-idle (the floor of a C event loop); each alone in a",
    'cgroup v1 memory group after a 500-connection warm-up: usage - inactive_file + kmem.tcp, growth / connections; the',
    'engines through the server\'s own `server/bench/memory-bench.ts`), **flood** (the orchestrator\'s',
    '`flood()` on the local backend at each `--n`: time to N, memory per connection per side, kernel socket memory,',
    'heartbeat chunks expected vs received at `--interval`, CPU per delivered chunk from the probes), **fanout** (one',
    'broadcast while N are held: publish to last delivery, p50/p99) and **sends** (autocannon against `POST /send/:id`',
    'to the ids held), and two stages against a **C reference pair** built here with Debian\'s gcc (`bench/c-pair/`: a',
    'server with one epoll loop and a timer wheel writing `Chunk N for ID x` as one HTTP chunk per stream per interval,',
    'a client reading each ready socket once per wake-up and counting chunks; one process each, several sharing a port',
    'with SO_REUSEPORT for larger N): **cpu** (`--cpu-n` 10,000 streams at `--cpu-rates` 10,000 and 100,000 chunks/s,',
    'chunked, SSE and WebSocket; comet-lab as `server/cli.ts --engine raw --workers 1` and `loadgen/cli.ts --procs 1`; the pairs in',
    'turn, alternating, `--cpu-rounds` 3 times each; process CPU of every process of each side from /proc/<pid>/stat over',
    'a `--cpu-window` divided by the chunks received in it; host softirq per chunk shown apart) and **broadcast** (each',
    'pair holds `--broadcast-n` streams with as many processes per side as comet-lab starts workers for it, and',
    'broadcasts `--broadcast-rounds` times: newest arrival minus the trigger). Every flood has a hard time bound (`--time-limit`) and stops below 1.5 GiB available; N',
    'beyond what kernel/\'s `assessCapacity` or the orchestrator\'s planner accepts is lowered to that, the limit named',
    '(`--force` runs N as asked: the estimate is an upper bound, the memory guard still stops the run). `--interval` is',
    'the server\'s heartbeat: at N connections it asks N / interval chunks per second of the two cores, so each flood row',
    'and each flood target names the heartbeat it ran at; the targets are judged at the seed\'s 10 s.',
    'Each run writes `bench/results/<UTC time>-<host>.md`',
    'and `.json` (machine, command, every figure, every target met or missed with the cause) and regenerates the tables',
    'below from the newest file that measured each part.',
    '',
  ];
  const mem = all.find((l) => l.results.memory && l.results.memory.results.length > 0);
  if (mem) {
    const m = mem.results.memory!;
    const floor = m.results.find((x) => x.kind === 'floor');
    const nchan = m.results.find((x) => x.kind === 'nchan');
    lines.push(`**Memory per idle connection** (${fmtInt(m.n)} connections, one worker; ${link(mem.file)}):`, '');
    lines.push('| server | KB per connection | user | kernel | / nginx floor | nginx + nchan / it |', '| --- | --- | --- | --- | --- | --- |');
    for (const x of m.results) {
      const p = x.perConnection.total;
      lines.push(`| ${x.target} | ${kb(p)} | ${kb(x.perConnection.user)} | ${kb(x.perConnection.kernel)} | ${floor && x !== floor ? `${(p / floor.perConnection.total).toFixed(2)}x` : ''} | ${nchan && x.kind === 'engine' ? `${(nchan.perConnection.total / p).toFixed(2)}x` : ''} |`);
    }
    lines.push('');
  }
  const cpu = all.find((l) => l.results.cpu && compareCpu(l.results.cpu).length > 0);
  if (cpu) {
    const c = cpu.results.cpu!;
    const rows = compareCpu(c);
    const failed = rows.some((x) => x.comet.failed.length + x.c.failed.length > 0);
    lines.push(`**CPU per heartbeat chunk against the C pair** (${fmtInt(c.n)} streams, one process per side, ${c.rounds} alternating rounds per pair asked, medians of the rounds measured${failed ? ': a failed round (streams not all held) has no figures, see the rounds column' : ''}; server + client process CPU from /proc/<pid>/stat; batch-io ${c.batchIo.startsWith('on') ? 'on' : 'off'}; ${link(cpu.file)}):`, '');
    lines.push('| transport | chunks/s asked | rounds measured (comet-lab, C) | comet-lab µs/chunk (server + load generator) | C µs/chunk (server + client) | comet-lab / C (rounds) | softirq µs/chunk, apart | received of asked (comet-lab, C) |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const x of rows) {
      lines.push(`| ${x.transport} | ${fmtInt(x.rate)} | ${roundsText(x.comet)}, ${roundsText(x.c)} | ${x.comet.total.toFixed(1)} (${x.comet.server.toFixed(1)} + ${x.comet.client.toFixed(1)}) | ${x.c.total.toFixed(1)} (${x.c.server.toFixed(1)} + ${x.c.client.toFixed(1)}) | ${x.ratio.toFixed(2)}x (${x.ratioRange[0].toFixed(2)}-${x.ratioRange[1].toFixed(2)}x) | ${x.comet.softirq.toFixed(1)}, ${x.c.softirq.toFixed(1)} | ${pct(x.comet.delivered)}, ${pct(x.c.delivered)} |`);
    }
    lines.push('');
  }
  const bc = all.find((l) => l.results.broadcast && compareBroadcast(l.results.broadcast).length > 0);
  if (bc) {
    const b = bc.results.broadcast!;
    lines.push(`**Broadcast against the C pair** (${b.intervalSeconds} s heartbeat, medians of ${b.rounds} broadcasts; ${link(bc.file)}):`, '');
    lines.push('| N | processes per side | comet-lab fan-out (p50, p99) | C fan-out (p50, p99) | comet-lab / C |', '| --- | --- | --- | --- | --- |');
    for (const x of compareBroadcast(b)) {
      lines.push(`| ${fmtInt(x.n)} | ${x.comet.processes} | ${ms(x.comet.fanOutMs)}${x.comet.complete ? '' : ' (incomplete)'} (${ms(x.comet.p50Ms, 1)}, ${ms(x.comet.p99Ms, 1)}) | ${ms(x.c.fanOutMs)}${x.c.complete ? '' : ' (incomplete)'} (${ms(x.c.p50Ms, 1)}, ${ms(x.c.p99Ms, 1)}) | ${x.ratio.toFixed(2)}x |`);
    }
    lines.push('');
  }
  // One row per N and heartbeat: a run at a longer heartbeat never replaces the headline 10 s row of the same N.
  const byN = new Map<string, { file: string; f: BenchResults['floods'][number] }>();
  // ... and per transport: a WebSocket flood never replaces the chunked row either
  const key = (f: BenchResults['floods'][number]) => `${f.nAsked}@${f.chunks.intervalSeconds}/${f.transport ?? 'chunked'}`;
  for (const l of all) for (const f of l.results.floods) if (!byN.has(key(f))) byN.set(key(f), { file: l.file, f });
  if (byN.size > 0) {
    lines.push(`**Floods** (server and load generators on this one machine, local backend; one row per N and heartbeat, the issue's headline is ${HEADLINE_INTERVAL_SECONDS} s):`, '');
    lines.push('| N asked | heartbeat | held (server) | time to N | server KB/conn (slope, total/N) | loadgen KB/conn (slope) | chunks received of expected (rate) | CPU µs/chunk (server + loadgen) | broadcast: last, p50, p99 | routed sends/s, p99 | results |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const rows = [...byN.values()].sort((a, b) => a.f.nAsked - b.f.nAsked || a.f.chunks.intervalSeconds - b.f.chunks.intervalSeconds);
    for (const { file, f } of rows) {
      const b = f.fanout, s = f.sends, c = f.cpu, k = f.chunks;
      const forced = f.n === f.nAsked && !f.capacity.fits ? ' (--force: past the doctor\'s estimate)' : '';
      lines.push([
        '',
        `${fmtInt(f.nAsked)}${(f.transport ?? 'chunked') === 'chunked' ? '' : ` (${f.transport})`}`,
        `${k.intervalSeconds} s`,
        `${fmtInt(f.reached.server)}${f.complete || f.reached.client < f.n ? '' : ' (incomplete)'}${f.n !== f.nAsked ? ` of ${fmtInt(f.n)} run` : ''}${forced}`,
        f.secondsToTarget === undefined ? 'not reached' : `${f.secondsToTarget.toFixed(1)} s`,
        `${kb(f.server.slopeBytes)}, ${kb(f.server.totalPerConnectionBytes)}`,
        kb(f.loadgen.slopeBytes),
        `${pct(k.ratio)} (${fmtInt(k.receivedPerSecond)}/s of ${fmtInt(k.expectedPerSecond)}/s)`,
        c.totalUsPerChunk === undefined ? 'n/a' : `${c.totalUsPerChunk.toFixed(1)} (${c.serverUsPerChunk?.toFixed(1) ?? 'n/a'} + ${c.loadgenUsPerChunk?.toFixed(1) ?? 'n/a'}${c.serverChunksUnusable || c.serverChunksMissing ? `; server per chunk received: its sent count ${c.serverChunksMissing ? 'was not sampled' : 'fell'}` : ''})`,
        b ? `${ms(b.fanOutMs)}${b.complete ? '' : ' (incomplete)'}, ${ms(b.p50Ms)}, ${ms(b.p99Ms)}` : f.incomplete?.includes('/broadcast') ? 'failed: POST /broadcast timed out' : 'not run',
        s ? `${fmtInt(s.sustainedRate)}, ${ms(s.p99Ms)}` : 'not run',
        link(file),
        '',
      ].join(' | ').trim());
    }
    // The furthest each heartbeat got toward holding its N at once, so a longer heartbeat's result is stated, not implied.
    const most = new Map<number, number>();
    for (const { f } of rows) most.set(f.chunks.intervalSeconds, Math.max(most.get(f.chunks.intervalSeconds) ?? 0, f.reached.server));
    lines.push('', `Most held at once (server count), by heartbeat: ${[...most].map(([i, held]) => `${fmtInt(held)} at ${i} s`).join(', ')}. At a long heartbeat few chunks flow, so CPU per chunk there mostly measures the cost of holding; each results file gives it per held connection per second.`);
    lines.push('');
  }
  const targets = pickTargets(all);
  if (targets.size > 0) {
    lines.push(`**Targets** (issues 8 and 15; flood targets at the seed's ${HEADLINE_INTERVAL_SECONDS} s heartbeat: each from the newest run at that heartbeat that measured it, a run at another heartbeat only where none did, its heartbeat named; the memory targets from the newest memory stage; the C-pair targets from the newest cpu and broadcast stages):`, '');
    lines.push('| target | heartbeat | measured | verdict | cause of a miss | results |', '| --- | --- | --- | --- | --- | --- |');
    for (const { file, t, interval } of targets.values()) {
      lines.push(`| ${t.target} | ${interval === undefined ? '' : `${interval} s`} | ${t.measured}${t.atN ? ` (at ${fmtInt(t.atN)})` : ''} | ${verdict(t.met)}${t.by ? `: ${t.by}` : ''} | ${t.cause ?? ''} | ${link(file)} |`);
    }
    lines.push('');
  }
  if (all.length === 0) lines.push('No results yet: run `make bench`.', '');
  return lines.join('\n');
}

/** Replaces the bench section of `readmePath` with `body`; throws when the markers are missing. */
export function writeBenchSection(readmePath: string, body: string): void {
  const text = readFileSync(readmePath, 'utf8');
  const a = text.indexOf(START), b = text.indexOf(END);
  if (a < 0 || b < a) {
    throw new LabError('LAB_ERR_README_SECTION', `${readmePath} has no ${START} ... ${END} section to write the results into`);
  }
  writeFileSync(readmePath, `${text.slice(0, a + START.length)}\n${body.trimEnd()}\n${text.slice(b)}`);
}

/** Regenerates the section from every results file in `resultsDir`; links are relative to the README. */
export function updateReadme(readmePath: string, resultsDir: string): void {
  const linkBase = relative(join(readmePath, '..'), resultsDir).split('\\').join('/') || '.';
  writeBenchSection(readmePath, renderBenchSection(loadResults(resultsDir), linkBase));
}
