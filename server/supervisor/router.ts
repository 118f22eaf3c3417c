/**
 * Routed sends and broadcasts. A send is stamped (time and sequence), logged for resume, and queued only to the
 * workers the directory names for its id; a broadcast is queued once to every worker, which fans it out locally.
 * Each worker's channel carries deliveries in sequence order, so every stream sees its messages once and in order.
 */
import { nowMs } from '../../shared/clock.ts';
import type { Directory } from './directory.ts';
import type { MessageLog } from './message-log.ts';
import type { WorkerPool } from './worker-pool.ts';

export interface RouteResult {
  seq: number;
  sentAtMs: number;
  delivered: number; // streams that got it
  workers: number; // workers it was queued to
}

export class Router {
  private readonly pool: WorkerPool;
  private readonly directory: Directory;
  private readonly log: MessageLog;

  constructor(pool: WorkerPool, directory: Directory, log: MessageLog) {
    this.pool = pool;
    this.directory = directory;
    this.log = log;
  }

  send(id: string, body: string): Promise<RouteResult> {
    return this.route(id, body, this.directory.lookup(id));
  }

  broadcast(body: string): Promise<RouteResult> {
    return this.route(null, body, this.pool.slots.map((s) => s.index));
  }

  private route(id: string | null, body: string, workers: readonly number[]): Promise<RouteResult> {
    const sentAtMs = nowMs();
    const seq = this.log.append(id, sentAtMs, body);
    return new Promise((resolve) => {
      let pending = workers.length;
      let delivered = 0;
      if (pending === 0) return resolve({ seq, sentAtMs, delivered, workers: 0 });
      const counted = (n: number) => {
        delivered += n;
        if (--pending === 0) resolve({ seq, sentAtMs, delivered, workers: workers.length });
      };
      for (const w of workers) this.pool.deliver(w, [id, seq, sentAtMs, body], counted);
    });
  }
}
