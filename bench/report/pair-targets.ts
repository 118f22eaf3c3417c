/**
 * Issue 15's targets, checked against a run's figures: CPU per chunk and broadcast fan-out against the C reference
 * pair measured in the same run, a worker keeping up with 100,000 chunks/s, memory per idle stream against nginx's
 * keep-alive floor, and routed sends with 100,000 held. Each is met, missed (by how much, and what the figures show
 * as the cause) or not measured.
 */
import type { FloodFigures } from '../flood/flood-figures.ts';
import { compareBroadcast, compareCpu, roundsText, type CpuComparison } from '../pairs/pair-figures.ts';
import type { BenchResults, TargetCheck } from './results.ts';
import { fmtInt, kb, ms, pct } from './format.ts';

/** Issue 15's bound on comet-lab against the C pair (CPU per chunk, fan-out time). */
export const C_RATIO = 1.25;
/** Issue 15's bound on memory per idle stream against nginx's keep-alive floor. */
export const FLOOR_RATIO = 1.2;
export const PAIR_TARGET_IDS = ['cpu-vs-c-chunked', 'cpu-vs-c-sse', 'cpu-vs-c-ws', 'keep-up-100k', 'broadcast-vs-c-100k', 'broadcast-vs-c-1m'];

const us = (v: number) => `${v.toFixed(1)} µs`;

/** A comparison's failed rounds, said where its medians are: the medians are then of fewer rounds on that side. */
function failedNote(c: CpuComparison): string {
  const sides = ([['comet-lab', c.comet], ['C', c.c]] as const).filter(([, s]) => s.failed.length > 0);
  if (sides.length === 0) return '';
  const each = sides.map(([name, s]) => `${name} ${s.failed.map((f) => `round ${f.round} failed (${f.error.split('\n')[0]})`).join(', ')}`);
  return `; medians of ${c.comet.rounds} comet-lab rounds against ${c.c.rounds} C rounds, ${each.join(', ')}`;
}

function cpuLine(c: CpuComparison): string {
  return `${fmtInt(c.rate)}/s: comet-lab ${us(c.comet.total)} (server ${c.comet.server.toFixed(1)} + load generator ${c.comet.client.toFixed(1)}) / C ${us(c.c.total)} (${c.c.server.toFixed(1)} + ${c.c.client.toFixed(1)}) = ${c.ratio.toFixed(2)}x (rounds ${c.ratioRange[0].toFixed(2)}-${c.ratioRange[1].toFixed(2)}x; softirq apart: ${c.comet.softirq.toFixed(1)} vs ${c.c.softirq.toFixed(1)} µs${failedNote(c)})`;
}

function cpuCause(over: CpuComparison[]): string {
  return over
    .map((c) => {
      const ds = c.comet.server - c.c.server;
      const dc = c.comet.client - c.c.client;
      const side = ds >= dc ? `the server side (+${ds.toFixed(1)} µs; load generator ${dc >= 0 ? '+' : ''}${dc.toFixed(1)})` : `the load generator (+${dc.toFixed(1)} µs; server ${ds >= 0 ? '+' : ''}${ds.toFixed(1)})`;
      return `at ${fmtInt(c.rate)}/s most of the difference is ${side}; comet-lab received ${pct(c.comet.delivered)} of the chunks asked, C ${pct(c.c.delivered)}`;
    })
    .join('; ');
}

function cpuTargets(r: Pick<BenchResults, 'cpu'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const all = r.cpu ? compareCpu(r.cpu) : [];
  for (const transport of ['chunked', 'sse', 'ws'] as const) {
    const id = `cpu-vs-c-${transport}`;
    const target = `CPU per heartbeat chunk (${transport}), server + load generator, <= ${C_RATIO}x the C epoll pair at 10,000 and 100,000 chunks/s (same run)`;
    const rows = all.filter((c) => c.transport === transport);
    if (rows.length === 0) {
      out.push({ id, target, measured: `not measured (no ${transport} CPU stage in this run)`, met: null });
      continue;
    }
    const over = rows.filter((c) => !(c.ratio <= C_RATIO));
    const rates = new Set(rows.map((c) => c.rate));
    const both = rates.has(10_000) && rates.has(100_000);
    const met = over.length > 0 ? false : both ? true : null;
    const measured = rows.map(cpuLine).join('; ') + (both ? '' : ' (not both 10,000 and 100,000 chunks/s in this run)');
    out.push({ id, target, measured, met, ...(met === false ? { by: over.map((c) => `${c.ratio.toFixed(2)}x at ${fmtInt(c.rate)}/s`).join(', '), cause: cpuCause(over) } : {}) });
  }
  {
    const id = 'keep-up-100k';
    const target = 'one comet-lab worker keeps up with 100,000 chunks/s (>= 99% of the chunks asked received, chunked)';
    const c = all.find((x) => x.transport === 'chunked' && x.rate >= 100_000);
    if (!c) out.push({ id, target, measured: 'not measured (no chunked CPU run at 100,000 chunks/s in this run)', met: null });
    else {
      const runs = r.cpu!.runs.filter((x) => x.impl === 'comet-lab' && x.transport === 'chunked' && x.rate === c.rate);
      const each = runs.map((x) => pct(x.window.chunks / x.window.expectedChunks)).join(', ');
      const met = c.comet.delivered >= 0.99;
      const busy = runs.map((x) => pct(x.window.hostBusy)).join(', ');
      out.push({
        id,
        target,
        measured: `${pct(c.comet.delivered)} of ${fmtInt(c.rate)} chunks/s received (median; ${fmtInt(c.comet.chunksPerSecond)}/s), rounds: ${each}${c.comet.failed.length ? ` (${c.comet.failed.length} failed: ${c.comet.failed.map((f) => `round ${f.round}, ${f.error.split('\n')[0]}`).join('; ')})` : ''}; the C pair ${pct(c.c.delivered)}${c.c.failed.length ? ` (${roundsText(c.c)} rounds)` : ''}`,
        met,
        ...(met ? {} : { by: `${pct(0.99 - c.comet.delivered)} short of 99%`, cause: `host busy ${busy} in those windows (both cores, /proc/stat: the pair itself, its softirq and whatever else ran); the C pair in the same rounds received ${pct(c.c.delivered)}` }),
      });
    }
  }
  return out;
}

function broadcastTargets(r: Pick<BenchResults, 'broadcast'>): TargetCheck[] {
  const rows = r.broadcast ? compareBroadcast(r.broadcast) : [];
  return ([[100_000, 'broadcast-vs-c-100k'], [1_000_000, 'broadcast-vs-c-1m']] as const).map(([n, id]) => {
    const target = `broadcast to all ${fmtInt(n)} held connections within ${C_RATIO}x of the C pair's fan-out time (same N, same run)`;
    const c = rows.find((x) => x.n === n);
    const failure = r.broadcast?.failures.find((f) => f.what.endsWith(`at ${n}`));
    if (!c) return { id, target, measured: failure ? `not measured: ${failure.what}: ${failure.error}` : `not measured (no broadcast stage at ${fmtInt(n)} in this run)`, met: null };
    const met = c.comet.complete && c.c.complete && c.ratio <= C_RATIO;
    const measured = `comet-lab ${ms(c.comet.fanOutMs)} (p50 ${ms(c.comet.p50Ms, 1)}, p99 ${ms(c.comet.p99Ms, 1)}; ${c.comet.processes} workers, ${c.comet.complete ? 'all delivered' : 'INCOMPLETE'}) / C ${ms(c.c.fanOutMs)} (p50 ${ms(c.c.p50Ms, 1)}, p99 ${ms(c.c.p99Ms, 1)}; ${c.c.processes} processes) = ${c.ratio.toFixed(2)}x, medians of ${c.comet.rounds} broadcasts each`;
    return { id, target, measured, met, ...(met ? {} : { by: c.comet.complete ? `${c.ratio.toFixed(2)}x` : 'not every stream got it', cause: `delivery p50 ${ms(c.comet.p50Ms, 1)} against C's ${ms(c.c.p50Ms, 1)}: a fan-out is ${fmtInt(n)} socket writes and as many reads, on the same 2 cores for both pairs; see the CPU stage for the cost of each` }) };
  });
}

function floorTarget(r: Pick<BenchResults, 'memory'>): TargetCheck {
  const id = 'memory-vs-floor-1.2';
  const target = `server memory per idle stream <= ${FLOOR_RATIO}x nginx holding idle keep-alive connections (same run)`;
  const m = r.memory?.results;
  const engine = m?.find((x) => x.kind === 'engine' && x.target === 'raw') ?? m?.find((x) => x.kind === 'engine');
  const floor = m?.find((x) => x.kind === 'floor');
  if (!engine || !floor) return { id, target, measured: 'not measured (no memory stage with an engine and the floor in this run)', met: null };
  const ratio = engine.perConnection.total / floor.perConnection.total;
  const met = ratio <= FLOOR_RATIO;
  return {
    id,
    target,
    measured: `${engine.target} ${kb(engine.perConnection.total)} (user ${kb(engine.perConnection.user)}, kernel ${kb(engine.perConnection.kernel)}) / nginx ${kb(floor.perConnection.total)} (user ${kb(floor.perConnection.user)}, kernel ${kb(floor.perConnection.kernel)}) = ${ratio.toFixed(2)}x at ${fmtInt(engine.held)}`,
    met,
    ...(met ? {} : { by: `${ratio.toFixed(2)}x: ${kb(engine.perConnection.total - FLOOR_RATIO * floor.perConnection.total)} over`, cause: `user space ${kb(engine.perConnection.user)} against nginx's ${kb(floor.perConnection.user)}; kernel ${kb(engine.perConnection.kernel)} against ${kb(floor.perConnection.kernel)}` }),
  };
}

function sendsTarget(floods: FloodFigures[]): TargetCheck {
  const id = 'sends-20k-100k';
  const target = 'routed sends >= 20,000/s with 100,000 held, delivery p99 <= 100 ms';
  const f = floods.find((x) => x.nAsked === 100_000 && x.sends);
  if (!f) return { id, target, measured: 'not measured (no sends stage at 100,000 in this run)', met: null };
  const s = f.sends!;
  const met = s.sustainedRate >= 20_000 && (s.p99Ms ?? Infinity) <= 100 && f.reached.server >= 100_000;
  return {
    id,
    target,
    measured: `${fmtInt(s.sustainedRate)}/s sustained of ${fmtInt(s.askedRate)}/s asked (${fmtInt(s.non2xx)} non-2xx, ${fmtInt(s.errors)} errors) with ${fmtInt(f.reached.server)} held; delivery p50 ${ms(s.p50Ms, 1)}, p99 <= ${ms(s.p99Ms, 1)}; request p99 ${ms(s.requestP99Ms)}`,
    met,
    ...(met ? {} : { by: [s.sustainedRate < 20_000 ? `${pct(s.sustainedRate / 20_000)} of 20,000/s` : '', (s.p99Ms ?? Infinity) > 100 ? `p99 ${ms(s.p99Ms)}` : ''].filter(Boolean).join('; '), cause: `server ${f.cpu.sendsServerCores?.toFixed(2) ?? 'n/a'} cores, load generators ${f.cpu.sendsLoadgenCores?.toFixed(2) ?? 'n/a'} cores, host ${pct(f.cpu.hostSends?.busy)} busy during the sends (/proc/stat)` }),
  };
}

export function checkPairTargets(r: Pick<BenchResults, 'cpu' | 'broadcast' | 'memory' | 'floods'>): TargetCheck[] {
  return [...cpuTargets(r), ...broadcastTargets(r), floorTarget(r), sendsTarget(r.floods)];
}
