/**
 * One sample of a run, taken once a second: both sides' connection counts, memory and CPU per component, the
 * clients' counters (chunks, messages, errors by cause, delivery latency) and the kernel's TCP and slab memory.
 * Every listener (progress bar, samples.csv, live page, Prometheus exporter) takes it as it is; samples.csv holds
 * every field, so the report rebuilds the same samples from the file. Numbers a component did not give are absent,
 * never 0.
 */
import type { ErrorCause, PaceStatus } from '../../shared/contracts.ts';
import type { ComponentRole, MemoryMethod } from '../backends/backend.ts';

/** One component as seen in one sample. Memory fields are absent when the probe could not read them. */
export interface ComponentSample {
  name: string; // server, loadgen-1, ...
  role: ComponentRole;
  up: boolean;
  /** Why the component is down (exit code, signal, OOM kill); absent while it is up. */
  exited?: string;
  /** Usage minus inactive file cache, as `docker stats` counts it. */
  workingSetBytes?: number;
  /** Kernel socket buffers charged to the component, where the probe separates them (see README: 0 on cgroup v1 here). */
  kernelSocketBytes?: number;
  /** All kernel memory charged to the component (slab...), already inside workingSetBytes. */
  kernelBytes?: number;
  /** Cumulative CPU time (user + system). */
  cpuSeconds?: number;
  method?: MemoryMethod;
  /** The host it runs on (swarm: the node's host name). */
  node?: string;
  /** The same working set read another way in the same sample (swarm: the node engine's `docker stats` figure). */
  crossCheckWorkingSetBytes?: number;
}

/** Percentiles of a latency histogram, milliseconds. */
export interface LatencyPercentiles {
  p50: number;
  p99: number;
  /** Messages the histogram holds. */
  count: number;
}

/** The load generators' counters, summed over those that answered. */
export interface ClientCounters {
  connecting: number;
  closed: number;
  chunks: number;
  messages: number;
  errors: number;
  /** Failed or ended connections by cause, cumulative since the start. */
  errorsByCause: Record<ErrorCause, number>;
  /**
   * Delivery latency (server send timestamp to client parse) of the load generator with the worst p99, from its HDR
   * histogram since the last reset (the sends and broadcast phases reset it); absent while no message arrived.
   */
  latencyMs?: LatencyPercentiles;
}

/** The server's `/stats`, the part a sample keeps. */
export interface ServerCounters {
  chunksSent: number;
  messagesSent: number;
  eventLoopLagMs: number;
  /** From accepting a send to writing it (all workers); absent while no message was sent. */
  deliveryMs?: LatencyPercentiles;
  /** The server's idle garbage collections so far and when the newest ran (epoch ms); absent where /stats has none. */
  idleGc?: { count: number; lastAtMs: number };
}

export interface RunSample {
  atMs: number; // epoch ms when the sample was taken (before its readings: a slow probe does not move it)
  t: number; // seconds since the run started
  phase: string;
  target: number; // connections asked of the load generators so far
  /**
   * `server`: established connections on the server's port as the kernel counts them (any target); `serverReported`:
   * comet-lab's own /stats count, kept as a cross-check (absent for other servers).
   */
  connections: { server: number | undefined; client: number | undefined; serverReported?: number };
  /** How `connections.server` was counted, and how old that count is when it was reused (kernel-connections.ts). */
  serverCount?: { method: string; ageMs: number };
  client: ClientCounters | undefined;
  server: ServerCounters | undefined;
  components: ComponentSample[];
  kernelTcpBytes: number; // host-wide socket buffers, /proc/net/sockstat
  tcpInuse: number; // host-wide TCP sockets in use, /proc/net/sockstat
  kernelSlabBytes?: number; // host-wide, /proc/meminfo Slab
  /** The load generators' connect pace, summed (shared/pace.ts), when they report one. */
  pace?: PaceStatus;
  /**
   * What taking this sample cost the orchestrator: wall time (ms), and of it the server's answer, the slowest load
   * generator's answer, and the probes' reading (ms); components that did not answer within the sample's budget
   * (their figures are absent); its own CPU time so far (s).
   */
  orchestrator?: { sampleMs: number; serverMs: number; loadgenMs: number; probesMs: number; missing: number; serverPartial?: boolean; cpuSeconds: number };
}

/** Memory a component holds: its working set plus kernel socket buffers charged outside it, where known. */
export function componentBytes(c: ComponentSample): number | undefined {
  if (c.workingSetBytes === undefined) return undefined;
  return c.workingSetBytes + (c.kernelSocketBytes ?? 0);
}
