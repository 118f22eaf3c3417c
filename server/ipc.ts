/**
 * Messages between the supervisor and its workers (Node's IPC channel, JSON). Deliveries and directory notices are
 * batched per event-loop turn, so a burst of sends or logins costs one IPC message per worker, not one per item.
 */

/** A delivery: `id` null means broadcast. `seq` is the global event id, `at` the send timestamp (epoch ms). */
export type Delivery = [id: string | null, seq: number, at: number, body: string];
/** A logged message for replay (SSE resume, poll catch-up). */
export type LoggedMessage = [seq: number, at: number, body: string];

export type ToWorker =
  | { t: 'deliver'; b: number; d: Delivery[] }
  | { t: 'replayed'; k: number; m: LoggedMessage[] }
  | { t: 'stats'; k: number; gc?: boolean } // gc: collect garbage first (only when the worker runs with --expose-gc)
  | { t: 'barrier'; k: number } // send the directory notices you hold now, then answer (before a send is 404)
  | { t: 'conn'; data: string } // a connection handed back (its next request is a stream); data: its request head (base64)
  | { t: 'shutdown' };

export type ToSupervisor =
  | { t: 'ready'; port: number }
  | { t: 'open'; n: number } // streams held now (sent when it changed, at most every OPEN_REPORT_MS)
  | { t: 'barrier'; k: number }
  | { t: 'dir'; ops: string[] } // '+id' logged in (first stream of id here), '-id' logged out (last one), in order
  | { t: 'delivered'; b: number; n: number[] }
  | { t: 'replay'; k: number; id: string; since: number }
  | { t: 'stats'; k: number; s: WorkerStats }
  | { t: 'api'; data: string }; // a connection handed over for the HTTP API; data: bytes read so far (base64)

/** One worker's figures, summed by the supervisor into ServerStats and the Prometheus scrape. */
export interface WorkerStats {
  pid: number;
  worker: number;
  open: [chunked: number, sse: number, poll: number, ws: number];
  opened: [chunked: number, sse: number, poll: number, ws: number];
  closed: Record<string, number>; // "<transport>:<reason>" -> count
  rejected: Record<string, number>; // HTTP status -> count (bad requests answered by the worker)
  chunksSent: number;
  messagesSent: number;
  resets: number; // streams told to reset (their Last-Event-ID was of another server run)
  idleGc: { count: number; lastAtMs: number }; // collections idle-gc.ts ran in this process
  delivery: { buckets: number[]; sum: number; count: number; maxMs: number }; // cumulative counts per DELIVERY_BUCKETS_S
  lagSeconds: number;
  process: {
    rssBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    externalBytes: number;
    cpuUserSeconds: number;
    cpuSystemSeconds: number;
    openFds: number;
    maxFds: number;
    startTimeSeconds: number;
  };
}

/** How often a worker tells the supervisor how many streams it holds (when the number changed). */
export const OPEN_REPORT_MS = 250;

/** Upper bounds (seconds) of the delivery-time histogram, shared by workers and the supervisor. */
export const DELIVERY_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
