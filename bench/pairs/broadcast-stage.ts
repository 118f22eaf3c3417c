/**
 * The broadcast stage: one message to every held stream, comet-lab against the C reference pair at the same N, in
 * one run. Each pair holds N streams with as many processes per side as comet-lab's server starts for N (`--workers
 * auto`: ceil(1.1 N / (file limit - 200))), then broadcasts `rounds` times; the fan-out time is the newest arrival
 * on the client side minus the moment the bench triggered the broadcast (POST /broadcast for comet-lab, a line on
 * each C server's stdin for C).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCPair } from '../c-pair/build.ts';
import { startCPair } from '../c-pair/c-pair.ts';
import { startCometPair } from './comet-pair.ts';
import { waitHeld, type Pair, type PairImpl } from './pair.ts';

export interface BroadcastStageOptions {
  ns: number[];
  rounds: number;
  intervalSeconds: number;
  /** Open files a process may hold (the hard nofile limit here). */
  fileLimit: number;
  signal: AbortSignal;
  onProgress?: (text: string) => void;
  onRun?: (run: BroadcastRun) => void;
}

export interface BroadcastRun {
  impl: PairImpl;
  n: number;
  processes: number;
  held: number;
  round: number;
  /** Newest arrival minus the trigger, ms. */
  fanOutMs: number;
  /** Delivery latency percentiles over this broadcast's messages (from the server's stamp), ms. */
  p50Ms: number;
  p99Ms: number;
  received: number;
  expected: number;
  complete: boolean;
}

export interface BroadcastStageResult {
  ns: number[];
  rounds: number;
  intervalSeconds: number;
  method: string;
  runs: BroadcastRun[];
  failures: Array<{ what: string; error: string }>;
}

export const BROADCAST_METHOD =
  'per N, each pair in turn (C first) holds N streams on loopback (`processes` server processes sharing the port, as many client ' +
  'processes, one source address each), settles 5 s, then broadcasts `rounds` times, 2 s apart: fan-out = newest message arrival on ' +
  'the client side - the moment the bench triggered it (comet-lab: POST /broadcast to the supervisor; C: `broadcast` on every ' +
  "c-server's stdin); complete when every held stream counted the message; p50/p99 from the clients' latency histograms";

/** Processes per side for N: what `--workers auto` starts (server/config.ts), 10% headroom for the kernel's hash. */
export function processesFor(n: number, fileLimit: number): number {
  return Math.max(1, Math.ceil((1.1 * n) / (fileLimit - 200)));
}

async function fanOut(pair: Pair, round: number, signal: AbortSignal, timeoutMs: number): Promise<Omit<BroadcastRun, 'impl' | 'n' | 'processes' | 'round'>> {
  await pair.resetLatency();
  await sleep(500, undefined, { signal });
  const before = await pair.totals();
  const expected = before.active;
  const triggeredAt = Date.now();
  await pair.broadcast(`bench broadcast ${round}`);
  const until = triggeredAt + timeoutMs;
  let t = await pair.totals();
  while (t.messages - before.messages < expected && Date.now() < until) {
    await sleep(50, undefined, { signal });
    t = await pair.totals();
  }
  const received = t.messages - before.messages;
  return { held: expected, fanOutMs: t.lastMessageAtMs - triggeredAt, p50Ms: t.p50Ms, p99Ms: t.p99Ms, received, expected, complete: received >= expected };
}

export async function runBroadcastStage(o: BroadcastStageOptions): Promise<BroadcastStageResult> {
  const bins = buildCPair();
  const result: BroadcastStageResult = { ns: o.ns, rounds: o.rounds, intervalSeconds: o.intervalSeconds, method: BROADCAST_METHOD, runs: [], failures: [] };
  for (const n of o.ns) {
    const processes = processesFor(n, o.fileLimit);
    for (const impl of ['c', 'comet-lab'] as const) {
      if (o.signal.aborted) return result;
      const what = `${impl} broadcast at ${n}`;
      o.onProgress?.(`${what}: holding ${n} streams with ${processes} processes per side`);
      let pair: Pair | undefined;
      const onAbort = () => void pair?.stop();
      o.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const spec = { n, intervalMs: o.intervalSeconds * 1000, transport: 'chunked' as const, processes };
        pair = impl === 'c' ? await startCPair(spec, bins) : await startCometPair(spec);
        const held = await waitHeld(pair, 60_000 + n / 2, o.signal, (t) => o.onProgress?.(`${what}: ${t.active} held`));
        if (held.active < n) throw new Error(`${held.active} of ${n} streams held (${held.failed} failed)`);
        await sleep(5000, undefined, { signal: o.signal });
        for (let round = 1; round <= o.rounds; round++) {
          const f = await fanOut(pair, round, o.signal, 60_000 + n / 10);
          const run: BroadcastRun = { impl, n, processes, round, ...f };
          result.runs.push(run);
          o.onRun?.(run);
          await sleep(2000, undefined, { signal: o.signal });
        }
      } catch (err) {
        if (o.signal.aborted) return result;
        result.failures.push({ what, error: (err as Error).message });
      } finally {
        o.signal.removeEventListener('abort', onAbort);
        await pair?.stop();
      }
    }
  }
  return result;
}
