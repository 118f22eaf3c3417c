/**
 * The broadcast stage: one message to every held stream, comet-lab against the C reference pair at the same N, in
 * one run. Each pair holds N streams with as many processes per side as comet-lab's server starts for N (`--workers
 * auto`: ceil(1.1 N / (file limit - 200))); both are held at once and broadcast in turn, so the shared machine's
 * other load falls on both; the fan-out time is the newest arrival on the client side minus the moment the bench
 * triggered the broadcast (POST /broadcast for comet-lab, a line on each C server's stdin for C).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCPair } from '../c-pair/build.ts';
import { startCPair } from '../c-pair/c-pair.ts';
import { startCometPair } from './comet-pair.ts';
import { waitHeld, type Pair, type PairImpl, type PairStageHooks, type PairStageResult } from './pair.ts';

export interface BroadcastStageOptions extends PairStageHooks<BroadcastRun> {
  ns: number[];
  rounds: number;
  intervalSeconds: number;
  /** Open files a process may hold (the hard nofile limit here). */
  fileLimit: number;
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

export interface BroadcastStageResult extends PairStageResult<BroadcastRun>, Pick<BroadcastStageOptions, 'ns' | 'rounds' | 'intervalSeconds'> {}

export const BROADCAST_METHOD =
  'per N, both pairs hold N streams on loopback at once (up to 200,000; one after the other above) with `processes` server processes ' +
  'sharing a port and as many client processes, one source address each; after 5 s they broadcast in turn, C first, `rounds` ' +
  'times each, 2 s apart: fan-out = newest message arrival on ' +
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

/** Up to this N both pairs are held at once and their broadcasts alternate; above it they run one after the other. */
const TOGETHER_MAX_N = 200_000;

async function holdPair(impl: PairImpl, n: number, processes: number, o: BroadcastStageOptions, bins: ReturnType<typeof buildCPair>): Promise<Pair> {
  const spec = { n, intervalMs: o.intervalSeconds * 1000, transport: 'chunked' as const, processes };
  const pair = impl === 'c' ? await startCPair(spec, bins) : await startCometPair(spec);
  try {
    const held = await waitHeld(pair, 60_000 + n / 2, o.signal, (t) => o.onProgress?.(`${impl} at ${n}: ${t.active} held`));
    if (held.active < n) throw new Error(`${held.active} of ${n} streams held (${held.failed} failed)`);
    return pair;
  } catch (err) {
    await pair.stop();
    throw err;
  }
}

export async function runBroadcastStage(o: BroadcastStageOptions): Promise<BroadcastStageResult> {
  const bins = buildCPair();
  const result: BroadcastStageResult = { ns: o.ns, rounds: o.rounds, intervalSeconds: o.intervalSeconds, method: BROADCAST_METHOD, runs: [], failures: [] };
  for (const n of o.ns) {
    const processes = processesFor(n, o.fileLimit);
    // Both pairs held at once, broadcasts alternating (C, comet-lab, C, ...): whatever else the shared machine does
    // then falls on both alike. Past TOGETHER_MAX_N, one pair at a time (memory: four sockets per stream).
    const groups: PairImpl[][] = n <= TOGETHER_MAX_N ? [['c', 'comet-lab']] : [['c'], ['comet-lab']];
    for (const impls of groups) {
      if (o.signal.aborted) return result;
      const pairs = new Map<PairImpl, Pair>();
      const onAbort = () => void Promise.all([...pairs.values()].map((p) => p.stop()));
      o.signal.addEventListener('abort', onAbort, { once: true });
      let what = `${impls.join(' and ')} at ${n}`;
      try {
        for (const impl of impls) {
          what = `${impl} broadcast at ${n}`;
          o.onProgress?.(`${what}: holding ${n} streams with ${processes} processes per side`);
          pairs.set(impl, await holdPair(impl, n, processes, o, bins));
        }
        await sleep(5000, undefined, { signal: o.signal });
        for (let round = 1; round <= o.rounds; round++) {
          for (const impl of impls) {
            what = `${impl} broadcast at ${n}`;
            const f = await fanOut(pairs.get(impl)!, round, o.signal, 60_000 + n / 10);
            const run: BroadcastRun = { impl, n, processes, round, ...f };
            result.runs.push(run);
            o.onRun?.(run);
            await sleep(2000, undefined, { signal: o.signal });
          }
        }
      } catch (err) {
        if (o.signal.aborted) return result;
        result.failures.push({ what, error: (err as Error).message });
        o.onFailure?.(what, (err as Error).message);
      } finally {
        o.signal.removeEventListener('abort', onAbort);
        await Promise.all([...pairs.values()].map((p) => p.stop()));
      }
    }
  }
  return result;
}
