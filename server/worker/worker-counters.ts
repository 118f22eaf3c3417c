/**
 * A worker's counters as plain numbers: workers do not load prom-client (it pulls in node:http, about 20 MB of RSS
 * per process, paid once per worker). The supervisor turns these into Prometheus metrics.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DELIVERY_BUCKETS_S, type WorkerStats } from '../ipc.ts';
import { idleGcRuns } from './idle-gc.ts';

/**
 * Listing /proc/self/fd costs about 1 µs per descriptor (14.5 ms for a worker holding 15,000 streams). Done on every
 * /stats and /metrics request in every worker, about once a second each, that is ~1-2 µs of CPU per held
 * connection per second: most of the 1.19 cores the server spent merely holding 1,000,000 streams at a 120 s
 * heartbeat (bench/results/2026-11-24T2339Z). So the directory is listed at most this often; in between, the count
 * follows the streams opened and closed since the last listing (exact for streams; other descriptors are caught at
 * the next listing).
 */
const FD_RECOUNT_MS = 10_000;

export class WorkerCounters {
  // per transport code (server/transports/transport.ts): chunked, sse, poll, ws
  readonly open: [number, number, number, number] = [0, 0, 0, 0];
  readonly opened: [number, number, number, number] = [0, 0, 0, 0];
  readonly closed: Record<string, number> = {};
  readonly rejected: Record<string, number> = {};
  chunksSent = 0;
  messagesSent = 0;
  closedTotal = 0;
  /** Streams that resumed with a position of another server run and were told to reset. */
  resets = 0;
  private readonly buckets = new Array<number>(DELIVERY_BUCKETS_S.length).fill(0);
  private deliverySum = 0;
  private deliveryCount = 0;
  private deliveryMax = 0;
  private readonly lag = monitorEventLoopDelay({ resolution: 20 });
  private readonly maxFds = readMaxFds();
  private readonly worker: number;
  private fdsListed = -1;
  private fdsListedAtMs = 0;
  private streamsWhenListed = 0;

  constructor(worker: number) {
    this.worker = worker;
    this.lag.enable();
  }

  close(transport: number, transportName: string, reason: string): void {
    this.open[transport]!--;
    this.closedTotal++;
    const key = `${transportName}:${reason}`;
    this.closed[key] = (this.closed[key] ?? 0) + 1;
  }

  reject(status: number): void {
    this.rejected[status] = (this.rejected[status] ?? 0) + 1;
  }

  /** Records `count` deliveries (default one), `ms` from accepting the send to writing it to a socket. */
  delivered(ms: number, count = 1): void {
    const s = ms / 1000;
    for (let i = 0; i < DELIVERY_BUCKETS_S.length; i++) if (s <= DELIVERY_BUCKETS_S[i]!) this.buckets[i]! += count;
    this.deliverySum += s * count;
    this.deliveryCount += count;
    if (ms > this.deliveryMax) this.deliveryMax = ms;
  }

  private openFds(): number {
    const streams = this.open[0] + this.open[1] + this.open[2] + this.open[3];
    const now = Date.now();
    if (this.fdsListed < 0 || now - this.fdsListedAtMs >= FD_RECOUNT_MS) {
      this.fdsListed = countOpenFds();
      this.fdsListedAtMs = now;
      this.streamsWhenListed = streams;
    }
    return this.fdsListed < 0 ? -1 : this.fdsListed + streams - this.streamsWhenListed;
  }

  snapshot(): WorkerStats {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const lagSeconds = Number.isFinite(this.lag.max) ? this.lag.max / 1e9 : 0;
    this.lag.reset();
    return {
      pid: process.pid,
      worker: this.worker,
      open: [...this.open],
      opened: [...this.opened],
      closed: { ...this.closed },
      rejected: { ...this.rejected },
      chunksSent: this.chunksSent,
      messagesSent: this.messagesSent,
      resets: this.resets,
      idleGc: { ...idleGcRuns },
      delivery: { buckets: [...this.buckets], sum: this.deliverySum, count: this.deliveryCount, maxMs: this.deliveryMax },
      lagSeconds,
      process: {
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        externalBytes: mem.external,
        cpuUserSeconds: cpu.user / 1e6,
        cpuSystemSeconds: cpu.system / 1e6,
        openFds: this.openFds(),
        maxFds: this.maxFds,
        startTimeSeconds: Math.round(Date.now() / 1000 - process.uptime()),
      },
    };
  }
}

/** Open file descriptors of this process (the number that must stay under the 20,000 limit). */
export function countOpenFds(): number {
  try {
    return readdirSync('/proc/self/fd').length - 1; // minus the directory handle readdir itself opened
  } catch {
    return -1;
  }
}

/** The soft `nofile` limit of this process, from /proc/self/limits (-1 if unknown). */
export function readMaxFds(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? -1 : Number(soft);
  } catch {
    return -1;
  }
}
