/**
 * One point of the live page's and the report's time charts: what a browser needs from one run sample, flat and
 * small, so that the whole history of an hour-long run (3600 points) reaches a page that opens late in one event.
 * Rates (chunks/s, messages/s, CPU cores) are differences between two consecutive samples over their own sample
 * times, so the builder is fed the samples in order; the live page and the report (from samples.csv) use the same
 * builder and so draw the same figures.
 */
import type { ErrorCause } from '../../shared/contracts.ts';
import { MemoryPerConnection, type PerConnection } from '../exporter/memory-per-connection.ts';
import { componentBytes, type RunSample } from '../run/sample.ts';

export interface LivePoint {
  /** Seconds since the run started (the run's own clock, the same as its phase events'). */
  t: number;
  phase: string;
  target: number;
  server: number | null; // connections as the server counts them; null when it did not answer
  client: number | null; // connections as the load generators count them
  /** Bytes per component (working set + kernel socket buffers charged to it); absent while unknown or down. */
  mem: Record<string, number>;
  /** CPU per component in cores (CPU seconds per second) since the previous point. */
  cpu: Record<string, number>;
  perConn: PerConnection;
  /** Heartbeat chunks per second: received by the clients, and expected (held / heartbeat) where heartbeats flow. */
  chunks?: { received?: number; expected?: number };
  /** Messages per second: written by the server, parsed by the clients. */
  messages?: { sent?: number; received?: number };
  /** Delivery latency, ms: clients end to end (worst load generator) and inside the server, since the last reset. */
  latency?: { p50?: number; p99?: number; serverP50?: number; serverP99?: number };
  /** The server ran an idle GC since the previous point: when (seconds since the start) and how many. */
  idleGc?: { t: number; count: number };
  /** Connection errors by cause so far (only causes that occurred). */
  errors: Partial<Record<ErrorCause, number>>;
  /** Components that are down, with why. */
  down: Record<string, string>;
  roles: Record<string, string>;
}

export interface LivePointOptions {
  /** The server's heartbeat interval; undefined where the transport carries no heartbeat (long-poll). */
  heartbeatSeconds?: number;
}

const rate = (now: number | undefined, prev: number | undefined, dt: number): number | undefined =>
  now === undefined || prev === undefined || dt <= 0 || now < prev ? undefined : (now - prev) / dt;

/** Turns samples, in order, into points. */
export class LivePointBuilder {
  readonly options: LivePointOptions;
  readonly #perConnection = new MemoryPerConnection();
  #prev: RunSample | undefined;

  constructor(options: LivePointOptions = {}) {
    this.options = options;
  }

  next(s: RunSample): LivePoint {
    const prev = this.#prev;
    this.#prev = s;
    const dt = prev ? s.t - prev.t : 0;
    const mem: Record<string, number> = {};
    const cpu: Record<string, number> = {};
    const down: Record<string, string> = {};
    const roles: Record<string, string> = {};
    for (const c of s.components) {
      roles[c.name] = c.role;
      if (!c.up) {
        down[c.name] = c.exited ?? 'down';
        continue;
      }
      const bytes = componentBytes(c);
      if (bytes !== undefined) mem[c.name] = bytes;
      const cores = rate(c.cpuSeconds, prev?.components.find((p) => p.name === c.name)?.cpuSeconds, dt);
      if (cores !== undefined) cpu[c.name] = cores;
    }
    const errors: Partial<Record<ErrorCause, number>> = {};
    for (const [cause, n] of Object.entries(s.client?.errorsByCause ?? {}) as Array<[ErrorCause, number]>) if (n > 0) errors[cause] = n;
    const received = rate(s.client?.chunks, prev?.client?.chunks, dt);
    const hb = this.options.heartbeatSeconds;
    const expected = hb && s.connections.client !== undefined ? s.connections.client / hb : undefined;
    const sent = rate(s.server?.messagesSent, prev?.server?.messagesSent, dt);
    const got = rate(s.client?.messages, prev?.client?.messages, dt);
    const lat = s.client?.latencyMs;
    // A new idle GC since the previous sample, placed at the server's own time for the newest one.
    const gcNow = s.server?.idleGc, gcBefore = prev?.server?.idleGc;
    const newGc = gcNow && gcBefore && gcNow.count > gcBefore.count && gcNow.lastAtMs > 0
      ? { t: Math.round(s.t * 1000 - (s.atMs - gcNow.lastAtMs)) / 1000, count: gcNow.count - gcBefore.count }
      : undefined;
    const srv = s.server?.deliveryMs;
    return {
      t: Math.round(s.t * 1000) / 1000,
      phase: s.phase,
      target: s.target,
      server: s.connections.server ?? null,
      client: s.connections.client ?? null,
      mem,
      cpu,
      perConn: this.#perConnection.update(s),
      ...(received !== undefined || expected !== undefined ? { chunks: { received, expected } } : {}),
      ...(sent !== undefined || got !== undefined ? { messages: { sent, received: got } } : {}),
      ...(lat || srv ? { latency: { p50: lat?.p50, p99: lat?.p99, serverP50: srv?.p50, serverP99: srv?.p99 } } : {}),
      ...(newGc ? { idleGc: newGc } : {}),
      errors,
      down,
      roles,
    };
  }
}

/** Heartbeat seconds for the chunks-expected line: none for long-poll, whose streams get no heartbeat chunks. */
export function heartbeatSeconds(plan: { transport: string; server: { heartbeatIntervalMs: number } }): number | undefined {
  return plan.transport === 'poll' ? undefined : plan.server.heartbeatIntervalMs / 1000;
}
