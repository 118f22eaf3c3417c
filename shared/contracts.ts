/**
 * The JSON shapes that cross process boundaries: the server's `GET /stats`, the load generator's control API
 * (`GET /status`, `POST /ramp`, `POST /stop`, `POST /latency/reset`) and the orchestrator reading both.
 * Metric names (Prometheus) are listed here too, so the dashboards and the tests that check them share one spelling.
 */

import type { OwnCgroupMemory } from './own-cgroup-memory.ts';

export const TRANSPORT_NAMES = ['chunked', 'sse', 'poll', 'ws'] as const;
export type Transport = (typeof TRANSPORT_NAMES)[number];

/**
 * Why a load-generator connection failed or ended; `protocol` covers bad status lines, chunk sizes, SSE fields and
 * WebSocket frames; `handshake` a WebSocket upgrade answered without a valid 101; `ws_close` a WebSocket the server
 * closed with a code other than 1000/1001 (every close code is also counted by code: `wsCloseCodes`).
 */
export const ERROR_CAUSES = ['refused', 'reset', 'timeout', 'addrnotavail', 'emfile', 'protocol', 'http_status', 'handshake', 'ws_close', 'other'] as const;
export type ErrorCause = (typeof ERROR_CAUSES)[number];

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number; // milliseconds, all of them
}

/** Why a load generator's connect pace is what it is; loadgen/pace-controller.ts says what each means. */
export const PACE_REASONS = [
  'waiting',
  'unpaced',
  'fixed',
  'slow-start',
  'increasing',
  'asked-rate',
  'connect-timeouts',
  'slow-connects',
  'connecting-cap',
  'done',
] as const;
export type PaceReason = (typeof PACE_REASONS)[number];

/**
 * `pace` of a load generator's `GET /status`: the connect rate asked, the rate its closed loop allows now, and why.
 * A parent (and the orchestrator over several load generators) sums the rates; `reason` is then the one most
 * processes give and `reasons` counts them all.
 */
export interface PaceStatus {
  askedPerSecond: number;
  currentPerSecond: number;
  reason: PaceReason;
  /** Times the rate was cut (halved on connect timeouts, -30% on slow connects) since the ramp began. */
  decreases: number;
  /** p90 of connect latency (start to response head) over the last half second, ms; the worst process's. */
  connectP90Ms?: number;
  /** Processes per reason (merged statuses only). */
  reasons?: Partial<Record<PaceReason, number>>;
}

/** `GET /status` of a load generator (a parent aggregates its child processes into one of these). */
export interface LoadgenStatus {
  target: number; // connections asked for so far
  connecting: number; // set up but response headers not yet received
  active: number; // open with a 2xx response (the seed's Active)
  closed: number; // were active, then closed (the seed's Closed)
  chunks: number; // HTTP chunks / SSE events / poll responses received (the seed's Chunks)
  messages: number; // of those, the ones carrying a server send timestamp
  resets: number; // resumes the server answered with a reset (the position was of another server run)
  errors: Record<ErrorCause, number>;
  latencyMs: LatencySummary; // delivery latency of messages since start or the last POST /latency/reset
  lastMessageAtMs: number; // epoch ms when the newest message arrived (0 if none): a broadcast's fan-out end
  procs: number;
  rampDone: boolean; // every targeted connection was attempted (and none waits to be retried)
  uptimeSeconds: number;
  pace?: PaceStatus;
  connectRetries?: number; // connects tried again after a timeout (each retry once)
  retryWaiting?: number; // timed-out connects queued to be tried again now
  io?: 'raw' | 'net'; // raw libuv handles or net.Socket
  transport?: Transport; // what the connections speak (one per load generator)
  wsCloseCodes?: Record<string, number>; // WebSocket close frames from the server, by code (ws only)
  /** The load generator's own memory cgroup read from inside (a container's: what `docker stats` shows for it). */
  cgroupMemory?: OwnCgroupMemory;
}

/** `POST /ramp` body: raise (or lower) the target, paced at `rate` connections per second. */
export interface RampRequest {
  target: number;
  rate?: number;
}

/** `GET /stats` of the server: sums over every worker. */
export interface ServerStats {
  workers: number;
  engine: string;
  open: Record<Transport, number> & { total: number }; // held streams by transport (ws: upgraded WebSockets)
  opened: number;
  closed: Record<string, number>; // by reason: client, timeout, error, shutdown, ...
  chunksSent: number;
  messagesSent: number;
  deliveryMs: LatencySummary; // from accepting a send until written to the socket
  eventLoopLagMs: number; // worst worker
  workerRestarts: number; // workers started again after one died
  /** Workers that exited while the server was running (one that died before it was ready counts too). */
  workerDeaths: number;
  /** Streams those workers held when they died (from each worker's last report, at most 250 ms old). */
  streamsLost: number;
  lastWorkerDeath: WorkerDeath | null;
  /** This server run's epoch: positions (SSE ids, Comet-Event-Id) are `<epoch>-<seq>`. */
  epoch: string;
  /** Streams that resumed with a position of another run and were told to reset. */
  resets: number;
  /** Idle garbage collections (server/worker/idle-gc.ts), summed over processes; lastAtMs: the newest (epoch ms, 0: none). */
  idleGc: { count: number; lastAtMs: number };
  /** The server's own memory cgroup read from inside (a container's: what `docker stats` shows for it). */
  cgroupMemory?: OwnCgroupMemory;
}

/** A worker that died while the server ran. */
export interface WorkerDeath {
  worker: number;
  pid: number;
  reason: string; // `SIGKILL`, `exit code 1`, `... before it was ready`
  atMs: number; // epoch ms
  streams: number; // streams it held
}

/** Prometheus metric names; units in the name. */
export const METRICS = {
  server: {
    open: 'comet_open_connections', // gauge {transport}
    opened: 'comet_connections_opened_total', // counter {transport}
    closed: 'comet_connections_closed_total', // counter {transport, reason}
    chunks: 'comet_chunks_sent_total', // counter
    messages: 'comet_messages_sent_total', // counter
    delivery: 'comet_message_delivery_seconds', // histogram
    lag: 'comet_event_loop_lag_seconds', // gauge
    restarts: 'comet_worker_restarts_total', // counter
    deaths: 'comet_worker_deaths_total', // counter
    streamsLost: 'comet_streams_lost_total', // counter: streams held by workers that died
    idleGc: 'comet_idle_gc_total', // counter {role, worker, pid}
    openFds: 'comet_process_open_fds', // gauge {role, worker, pid}: against the per-process file limit
    maxFds: 'comet_process_max_fds', // gauge {role, worker, pid}
  },
  loadgen: {
    target: 'loadgen_target_connections', // gauge
    connecting: 'loadgen_connecting_connections', // gauge
    active: 'loadgen_active_connections', // gauge {transport}
    closed: 'loadgen_closed_connections_total', // counter
    chunks: 'loadgen_chunks_received_total', // counter {transport}: HTTP chunks, SSE events, poll answers, WebSocket messages
    messages: 'loadgen_messages_received_total', // counter {transport}
    errors: 'loadgen_errors_total', // counter {cause}
    wsCloses: 'loadgen_ws_close_total', // counter {code}: WebSocket close frames from the server
    latency: 'loadgen_delivery_latency_seconds', // gauge {quantile="0.5"|"0.9"|"0.99"|"1"}
  },
  lab: {
    target: 'lab_target_connections', // gauge
    phase: 'lab_phase', // gauge {phase}: 1 for the current phase, 0 for the others
    connections: 'lab_connections', // gauge {side="server"|"client"}
    memory: 'lab_memory_bytes', // gauge {component, kind="working_set"|"kernel_socket"}
    memoryPerConnection: 'lab_memory_per_connection_bytes', // gauge {component}
    kernelTcp: 'lab_kernel_tcp_memory_bytes', // gauge (from /proc/net/sockstat)
    cpu: 'lab_cpu_seconds_total', // counter {component}
  },
} as const;
