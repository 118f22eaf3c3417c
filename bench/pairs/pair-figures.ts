/**
 * The side-by-side figures the results file, README and targets show: per transport and rate, the median of each
 * pair's rounds and comet-lab's ratio to C; per N, the median fan-out of each pair and the ratio. Medians, because
 * the machine is shared and one round can be hit by someone else's burst; the per-round ratios give the spread.
 */
import type { BroadcastStageResult } from './broadcast-stage.ts';
import type { CpuStageResult } from './cpu-stage.ts';
import type { PairTransport } from './pair.ts';

export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface CpuSide {
  rounds: number;
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

function side(runs: CpuStageResult['runs']): CpuSide {
  const w = runs.map((r) => r.window);
  return {
    rounds: runs.length,
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
      const a = side(c);
      const b = side(comet);
      out.push({ transport, rate, intervalMs: runs[0]!.intervalMs, c: a, comet: b, ratio: b.total / a.total, ratioRange: [Math.min(...perRound), Math.max(...perRound)] });
    }
  }
  return out;
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
