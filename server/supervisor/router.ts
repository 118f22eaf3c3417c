/**
 * Routed sends and broadcasts. A send is stamped (time and sequence), logged for resume, and queued only to the
 * workers the directory names for its id; a broadcast is queued once to every worker, which fans it out locally.
 * Each worker's channel carries deliveries in sequence order, so every stream sees its messages once and in order.
 *
 * A send is answered 404 only when no stream received it, and such a send leaves no trace in the log, so a stream
 * that resumes later never gets it by replay (a sender that retries on 404 would otherwise make duplicates). A send
 * to an id whose poller is between two polls (Directory.lingers) is logged for its next poll and answered 202.
 * Before a 404 the router asks every worker for the login notices it has not sent yet (a barrier): a stream whose
 * response head was written before the send arrived is then known, and routed to, instead of being missed.
 */
import { nowMs } from '../../shared/clock.ts';
import type { LoggedMessage } from '../ipc.ts';
import type { Directory } from './directory.ts';
import type { MessageLog } from './message-log.ts';
import type { WorkerPool } from './worker-pool.ts';

export interface RouteResult {
  seq: number; // 0 when nothing was routed (no stream of the id)
  sentAtMs: number;
  delivered: number; // streams that got it
  workers: number; // workers it was queued to
  /** Kept for the id's poller, which is between two polls (delivered is 0): its next poll gets it. */
  queued?: boolean;
}

export class Router {
  private readonly pool: WorkerPool;
  private readonly directory: Directory;
  private readonly log: MessageLog;
  /** Sends to ids the directory did not know, waiting for the next barrier. */
  private misses: Array<() => void> = [];
  private barrierRunning = false;
  /** Sends not answered yet, by sequence: a replay that hands one to a stream counts as delivering it. */
  private readonly pending = new Map<number, { replayed: number }>();

  constructor(pool: WorkerPool, directory: Directory, log: MessageLog) {
    this.pool = pool;
    this.directory = directory;
    this.log = log;
    pool.replaySource = (id, since) => this.replay(id, since);
  }

  send(id: string, body: string): Promise<RouteResult> {
    const sentAtMs = nowMs();
    const holders = this.directory.lookup(id);
    if (holders.length > 0) return this.route(id, body, sentAtMs, holders);
    return new Promise((resolve) => {
      this.misses.push(() => {
        const again = this.directory.lookup(id);
        if (again.length > 0) return void this.route(id, body, sentAtMs, again).then(resolve);
        if (!this.directory.lingers(id)) return resolve({ seq: 0, sentAtMs, delivered: 0, workers: 0 });
        resolve({ seq: this.log.append(id, sentAtMs, body), sentAtMs, delivered: 0, workers: 0, queued: true });
      });
      this.runBarrier();
    });
  }

  broadcast(body: string): Promise<RouteResult> {
    return this.route(null, body, nowMs(), this.pool.slots.map((s) => s.index));
  }

  /** What a resuming stream of `id` missed after `since` (the workers ask through the pool). */
  private replay(id: string, since: number): LoggedMessage[] {
    const missed = this.log.since(id, since);
    for (const m of missed) {
      const p = this.pending.get(m[0]);
      if (p !== undefined) p.replayed++;
    }
    return missed;
  }

  /** One barrier at a time; misses that arrive meanwhile wait for the next one (it must start after them). */
  private runBarrier(): void {
    if (this.barrierRunning) return;
    this.barrierRunning = true;
    const round = this.misses;
    this.misses = [];
    void this.pool.barrier().then(() => {
      this.barrierRunning = false;
      for (const retry of round) retry();
      if (this.misses.length > 0) this.runBarrier();
    });
  }

  private route(id: string | null, body: string, sentAtMs: number, workers: readonly number[]): Promise<RouteResult> {
    const seq = this.log.append(id, sentAtMs, body);
    const pending = { replayed: 0 };
    if (id !== null) this.pending.set(seq, pending);
    return new Promise((resolve) => {
      let waiting = workers.length;
      let delivered = 0;
      const done = () => {
        this.pending.delete(seq);
        delivered += pending.replayed;
        if (id !== null && delivered === 0) this.log.retract(id, seq);
        resolve({ seq, sentAtMs, delivered, workers: workers.length });
      };
      if (waiting === 0) return done();
      const counted = (n: number) => {
        delivered += n;
        if (--waiting === 0) done();
      };
      for (const w of workers) this.pool.deliver(w, [id, seq, sentAtMs, body], counted);
    });
  }
}
