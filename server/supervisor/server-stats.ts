/**
 * Sums the workers' figures into the `GET /stats` shape of shared/contracts.ts (ServerStats), plus what a
 * dashboard needs beyond it: per-process open files against the limit, directory size, rejected requests.
 */
import type { LatencySummary, ServerStats, WorkerDeath } from '../../shared/contracts.ts';
import { DELIVERY_BUCKETS_S, type WorkerStats } from '../ipc.ts';

export interface ProcessFigures {
  role: 'supervisor' | 'worker';
  worker?: number;
  pid: number;
  openFds: number;
  maxFds: number;
  rssBytes: number;
  open: number; // comet streams held
  idleGc: { count: number; lastAtMs: number };
}

/** ServerStats and the additions this server makes (documented in README). */
export interface CometServerStats extends ServerStats {
  pid: number;
  port: number;
  uptimeSeconds: number;
  workersReady: number;
  directoryIds: number;
  lastSeq: number;
  rejected: Record<string, number>;
  processes: ProcessFigures[];
  /** Addresses the server listens on. */
  hosts: string[];
  /** API connections the supervisor holds, and its cap. */
  apiConnections: { open: number; cap: number; lean: number }; // lean: held by the lean send path (lean-api.ts)
}

export interface SupervisorFigures {
  workers: number;
  engine: string;
  port: number;
  hosts: string[];
  epoch: string;
  restarts: number;
  deaths: number;
  streamsLost: number;
  lastDeath: WorkerDeath | undefined;
  directoryIds: number;
  lastSeq: number;
  supervisor: ProcessFigures;
  lagSeconds: number;
  rejected: Record<string, number>;
  apiConnections: { open: number; cap: number; lean: number }; // lean: held by the lean send path (lean-api.ts)
}

/** Percentile from cumulative histogram buckets, linear inside the bucket; the exact max caps it. */
export function percentileMs(buckets: number[], count: number, q: number, maxMs: number): number {
  if (count === 0) return 0;
  const rank = q * count;
  let lowerS = 0;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const upperS = DELIVERY_BUCKETS_S[i]!;
    if (buckets[i]! >= rank) {
      const inBucket = buckets[i]! - below;
      const frac = inBucket === 0 ? 1 : (rank - below) / inBucket;
      return Math.min(maxMs, (lowerS + frac * (upperS - lowerS)) * 1000);
    }
    lowerS = upperS;
    below = buckets[i]!;
  }
  return maxMs;
}

export function aggregateStats(workers: WorkerStats[], sup: SupervisorFigures): CometServerStats {
  const open = { chunked: 0, sse: 0, poll: 0, ws: 0, total: 0 };
  let opened = 0;
  const closed: Record<string, number> = {};
  const rejected: Record<string, number> = { ...sup.rejected };
  let resets = 0;
  const idleGc = { ...sup.supervisor.idleGc };
  let chunksSent = 0;
  let messagesSent = 0;
  const buckets = new Array<number>(DELIVERY_BUCKETS_S.length).fill(0);
  let count = 0;
  let maxMs = 0;
  let lag = sup.lagSeconds;
  const processes: ProcessFigures[] = [sup.supervisor];
  for (const w of workers) {
    open.chunked += w.open[0];
    open.sse += w.open[1];
    open.poll += w.open[2];
    open.ws += w.open[3] ?? 0;
    opened += w.opened.reduce((a, b) => a + b, 0);
    for (const [key, n] of Object.entries(w.closed)) {
      const reason = key.slice(key.indexOf(':') + 1);
      closed[reason] = (closed[reason] ?? 0) + n;
    }
    for (const [status, n] of Object.entries(w.rejected)) rejected[status] = (rejected[status] ?? 0) + n;
    chunksSent += w.chunksSent;
    messagesSent += w.messagesSent;
    resets += w.resets;
    idleGc.count += w.idleGc.count;
    idleGc.lastAtMs = Math.max(idleGc.lastAtMs, w.idleGc.lastAtMs);
    for (let i = 0; i < buckets.length; i++) buckets[i]! += w.delivery.buckets[i] ?? 0;
    count += w.delivery.count;
    maxMs = Math.max(maxMs, w.delivery.maxMs);
    lag = Math.max(lag, w.lagSeconds);
    processes.push({
      role: 'worker',
      worker: w.worker,
      pid: w.pid,
      openFds: w.process.openFds,
      maxFds: w.process.maxFds,
      rssBytes: w.process.rssBytes,
      open: w.open.reduce((a, b) => a + b, 0),
      idleGc: w.idleGc,
    });
  }
  open.total = open.chunked + open.sse + open.poll + open.ws;
  const deliveryMs: LatencySummary = {
    count,
    p50: percentileMs(buckets, count, 0.5, maxMs),
    p90: percentileMs(buckets, count, 0.9, maxMs),
    p99: percentileMs(buckets, count, 0.99, maxMs),
    max: maxMs,
  };
  return {
    workers: sup.workers,
    engine: sup.engine,
    open,
    opened,
    closed,
    chunksSent,
    messagesSent,
    deliveryMs,
    eventLoopLagMs: lag * 1000,
    workerRestarts: sup.restarts,
    workerDeaths: sup.deaths,
    streamsLost: sup.streamsLost,
    lastWorkerDeath: sup.lastDeath ?? null,
    epoch: sup.epoch,
    resets,
    idleGc,
    pid: sup.supervisor.pid,
    port: sup.port,
    hosts: sup.hosts,
    apiConnections: sup.apiConnections,
    uptimeSeconds: process.uptime(),
    workersReady: workers.length,
    directoryIds: sup.directoryIds,
    lastSeq: sup.lastSeq,
    rejected,
    processes,
  };
}
