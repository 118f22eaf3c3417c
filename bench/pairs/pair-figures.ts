/**
 * The side-by-side figures the results file, README and targets show: per transport and rate, the median of each
 * pair's rounds and comet-lab's ratio to C; per N, the median fan-out of each pair and the ratio. Medians, because
 * the machine is shared and one round can be hit by someone else's burst; the per-round ratios give the spread. A
 * round that failed (its streams not all held) has no window: it is left out of the medians and listed with its error.
 */
import type { BroadcastStageResult } from './broadcast-stage.ts';
import type { CpuStageResult } from './cpu-stage.ts';
import type { PairImpl, PairTransport } from './pair.ts';

/** How the CPU stage names one run of one pair, in its progress and in its failures: one spelling, read back below. */
export function cpuRunName(impl: PairImpl, transport: PairTransport, rate: number, round: number): string {
  return `${impl} ${transport} ${rate}/s round ${round}`;
}

export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface CpuSide {
  /** Rounds measured (the medians are over these). */
  rounds: number;
  /** Rounds that failed (not held, crashed): left out of the medians, and named wherever the medians are shown. */
  failed: Array<{ round: number; error: string }>;
  /** Medians over rounds, µs per chunk. */
  total: number;
  server: number;
  client: number;
  softirq: number;
  /** Chunks received / chunks the heartbeat asked, median. */
  delivered: number;
  /** Chunks received per second, median. */
  chunksPerSecond: number;
}

export interface CpuComparison {
  transport: PairTransport;
  rate: number;
  intervalMs: number;
  c: CpuSide;
  comet: CpuSide;
  /** comet-lab's median / C's median. */
  ratio: number;
  /** comet-lab round k / C round k, lowest and highest. */
  ratioRange: [number, number];
}

function side(runs: CpuStageResult['runs'], failed: CpuSide['failed']): CpuSide {
  const w = runs.map((r) => r.window);
  return {
    rounds: runs.length,
    failed,
    total: median(w.map((x) => x.usPerChunk)),
    server: median(w.map((x) => x.server.usPerChunk)),
    client: median(w.map((x) => x.client.usPerChunk)),
    softirq: median(w.map((x) => x.softirqUsPerChunk)),
    delivered: median(w.map((x) => x.chunks / x.expectedChunks)),
    chunksPerSecond: median(w.map((x) => x.chunks / x.seconds)),
  };
}

export function compareCpu(r: CpuStageResult): CpuComparison[] {
  const out: CpuComparison[] = [];
  for (const transport of r.transports) {
    for (const rate of r.rates) {
      const runs = r.runs.filter((x) => x.transport === transport && x.rate === rate);
      const c = runs.filter((x) => x.impl === 'c');
      const comet = runs.filter((x) => x.impl === 'comet-lab');
      if (c.length === 0 || comet.length === 0) continue;
      const perRound = comet.map((x) => x.window.usPerChunk / (c.find((y) => y.round === x.round)?.window.usPerChunk ?? NaN)).filter(Number.isFinite);
      const failed = (impl: PairImpl) =>
        Array.from({ length: r.rounds }, (_, k) => k + 1).flatMap((round) => r.failures.filter((f) => f.what === cpuRunName(impl, transport, rate, round)).map((f) => ({ round, error: f.error })));
      const a = side(c, failed('c'));
      const b = side(comet, failed('comet-lab'));
      out.push({ transport, rate, intervalMs: runs[0]!.intervalMs, c: a, comet: b, ratio: b.total / a.total, ratioRange: [Math.min(...perRound), Math.max(...perRound)] });
    }
  }
  return out;
}

/** A side's rounds as the tables and targets state them: `3`, or `2 of 3 (round 1 failed)`. */
export function roundsText(s: CpuSide): string {
  if (s.failed.length === 0) return String(s.rounds);
  return `${s.rounds} of ${s.rounds + s.failed.length} (round ${s.failed.map((f) => f.round).join(', ')} failed)`;
}

export interface BroadcastSide {
  rounds: number;
  processes: number;
  held: number;
  /** Medians over rounds. */
  fanOutMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Every round reached every held stream. */
  complete: boolean;
}

export interface BroadcastComparison {
  n: number;
  c: BroadcastSide;
  comet: BroadcastSide;
  ratio: number;
}

function bside(runs: BroadcastStageResult['runs']): BroadcastSide {
  return {
    rounds: runs.length,
    processes: runs[0]!.processes,
    held: Math.min(...runs.map((x) => x.held)),
    fanOutMs: median(runs.map((x) => x.fanOutMs)),
    p50Ms: median(runs.map((x) => x.p50Ms)),
    p99Ms: median(runs.map((x) => x.p99Ms)),
    complete: runs.every((x) => x.complete),
  };
}

export function compareBroadcast(r: BroadcastStageResult): BroadcastComparison[] {
  const out: BroadcastComparison[] = [];
  for (const n of r.ns) {
    const c = r.runs.filter((x) => x.n === n && x.impl === 'c');
    const comet = r.runs.filter((x) => x.n === n && x.impl === 'comet-lab');
    if (c.length === 0 || comet.length === 0) continue;
    const a = bside(c);
    const b = bside(comet);
    out.push({ n, c: a, comet: b, ratio: b.fanOutMs / a.fanOutMs });
  }
  return out;
}
