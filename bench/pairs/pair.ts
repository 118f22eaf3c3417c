/**
 * A server and its flood client, started together for a side-by-side measurement: comet-lab's (server/cli.ts and
 * loadgen/cli.ts) or the C reference pair (bench/c-pair). Both hold `n` streams of `/test/<i>` (or `/sse/<i>`, `/ws/<i>`) on
 * loopback, heartbeat them every `intervalMs`, count what arrives on the client side, and can broadcast one message
 * to every stream. The bench measures them the same way through this interface (bench/pairs/cpu-window.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type PairTransport = 'chunked' | 'sse' | 'ws';
export const PAIR_TRANSPORTS: readonly PairTransport[] = ['chunked', 'sse', 'ws'];

export interface PairSpec {
  n: number;
  intervalMs: number;
  transport: PairTransport;
  /** Processes per side (servers sharing the port with SO_REUSEPORT, clients each with its own source address). */
  processes: number;
}

/** What the client side counted since it started. */
export interface ClientTotals {
  active: number;
  failed: number;
  /** Heartbeats, welcomes and messages: every chunk (or SSE event). */
  chunks: number;
  messages: number;
  /** Epoch ms of the newest message (0: none since the last latency reset). */
  lastMessageAtMs: number;
  /** Delivery latency since the last reset, ms: p50 a count-weighted mean over processes, p99 and max their largest. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface Pair {
  /** `c` or `comet-lab`. */
  readonly impl: PairImpl;
  readonly spec: PairSpec;
  /** Root process ids of each side (each root's descendants belong to it too: a supervisor's workers). */
  readonly roots: { server: number[]; client: number[] };
  totals(): Promise<ClientTotals>;
  /** Triggers one broadcast of `body`; resolves once the server(s) accepted it. */
  broadcast(body: string): Promise<void>;
  resetLatency(): Promise<void>;
  /** Stops both sides; everything they started is gone when it resolves. Safe to call twice. */
  stop(): Promise<void>;
}

export type PairImpl = 'c' | 'comet-lab';

/** What the bench gives a stage against the C pair: its stop signal and what to report as it goes (stages never print). */
export interface PairStageHooks<R> {
  signal: AbortSignal;
  onProgress?: (text: string) => void;
  onRun?: (run: R) => void;
  onFailure?: (what: string, error: string) => void;
}

/** What a stage against the C pair writes into the results: how it measured, each run, and each run that failed. */
export interface PairStageResult<R> {
  method: string;
  runs: R[];
  failures: Array<{ what: string; error: string }>;
}

/** Sums client totals of several processes. */
export function sumTotals(parts: ClientTotals[]): ClientTotals {
  const out: ClientTotals = { active: 0, failed: 0, chunks: 0, messages: 0, lastMessageAtMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  let weighted = 0;
  for (const p of parts) {
    out.active += p.active;
    out.failed += p.failed;
    out.chunks += p.chunks;
    out.messages += p.messages;
    out.lastMessageAtMs = Math.max(out.lastMessageAtMs, p.lastMessageAtMs);
    out.p99Ms = Math.max(out.p99Ms, p.p99Ms);
    out.maxMs = Math.max(out.maxMs, p.maxMs);
    weighted += p.p50Ms * p.messages;
  }
  out.p50Ms = out.messages > 0 ? weighted / out.messages : 0;
  return out;
}

/** Waits until the client side holds every stream (or every attempt ended); throws past `timeoutMs`. */
export async function waitHeld(pair: Pair, timeoutMs: number, signal?: AbortSignal, onProgress?: (t: ClientTotals) => void): Promise<ClientTotals> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const t = await pair.totals();
    onProgress?.(t);
    if (t.active + t.failed >= pair.spec.n) return t;
    if (Date.now() > until) throw new Error(`${pair.impl}: ${t.active} of ${pair.spec.n} held after ${timeoutMs} ms (${t.failed} failed)`);
    await sleep(250, undefined, { signal });
  }
}

/**
 * The source address of client process k of an implementation: `127.0.3.<k+1>` for C, `127.0.4.<k+1>` for comet-lab.
 * Away from 127.0.0.1, where other programs' ports live, and apart per implementation: the sockets one run leaves in
 * TIME_WAIT hold their ports on that address for 60 s.
 */
export function clientSource(impl: PairImpl, k: number): string {
  return `127.0.${impl === 'c' ? 3 : 4}.${k + 1}`;
}
