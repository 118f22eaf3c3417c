/**
 * What the control API, the reporter and the CLI drive: one process's pool, or a parent spreading the connections
 * over child processes (each under the per-process file limit). Both answer the same calls.
 */
import type { LoadgenStatus } from '../shared/contracts.ts';
import type { ActiveSample } from './pool.ts';

export interface LoadgenEngine {
  readonly procs: number;
  /** Total connections to hold (capped at the count) and the pace in connections/s over all processes (0: unpaced). */
  ramp(target: number, rate: number): void;
  status(): Promise<LoadgenStatus>;
  resetLatency(): Promise<void>;
  /** Up to `n` distinct random indices of connections active now (over all processes, in proportion), and the count. */
  sampleActive(n: number): Promise<ActiveSample>;
  /** Closes everything; resolves with the final totals. Safe to call twice. */
  stop(): Promise<LoadgenStatus>;
}

/** Splits `total` over parts in proportion to their capacities (largest remainders), never above a capacity. */
export function splitProportionally(total: number, capacities: number[]): number[] {
  const sum = capacities.reduce((a, b) => a + b, 0);
  if (sum === 0) return capacities.map(() => 0);
  const t = Math.min(total, sum);
  const shares = capacities.map((c) => Math.floor((t * c) / sum));
  let left = t - shares.reduce((a, b) => a + b, 0);
  for (let k = 0; left > 0; k = (k + 1) % shares.length) {
    if (shares[k]! < capacities[k]!) {
      shares[k]!++;
      left--;
    }
  }
  return shares;
}
