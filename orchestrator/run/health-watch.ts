/**
 * What can go wrong in a run that still reaches its end, noticed while it happens: a server worker that died and was
 * replaced (the streams it held are gone: measured, SIGKILL of one of 2 workers under 10,000 streams lost 5,019 of
 * them and the report said "complete, errors: none"), and a stall (a SIGSTOPped server for 15 s gave 73.7% of chunks,
 * a "complete" report and no progress line for 22 s). Each becomes a line of `RunOutcome.degraded`, so the report is
 * marked DEGRADED and the flood exits 6, and an event the progress listener prints at once.
 */
import type { ServerStats } from '../../shared/contracts.ts';

/** Optional figures a server's /stats may carry beyond ServerStats (newer servers: deaths and streams lost). */
type StatsWithDeaths = ServerStats & { workerDeaths?: number; streamsLost?: number };

export interface HealthEvent {
  atMs: number;
  kind: 'worker-died' | 'stall' | 'stall-over';
  message: string;
}

export class HealthWatch {
  readonly reasons: string[] = [];
  private restartsAtStart: number | undefined;
  private restartsSeen = 0;
  private lostSeen = 0;
  private lastSampleAtMs: number;
  private stalledSinceMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly periodMs: number;
  private readonly stallAfterMs: number;
  private readonly onEvent: (e: HealthEvent) => void;

  /**
   * A stall: a sample in which the server did not answer /stats, or no sample at all for `stallAfterMs` (5 periods,
   * at least 5 s: on two saturated cores samples stretch to 3-12 s apart without anything being wrong).
   */
  constructor(periodMs: number, onEvent: (e: HealthEvent) => void, stallAfterMs = Math.max(5000, 5 * periodMs)) {
    this.periodMs = periodMs;
    this.stallAfterMs = stallAfterMs;
    this.onEvent = onEvent;
    this.lastSampleAtMs = Date.now();
  }

  /** Starts the watchdog that notices samples that stop coming (the sampler waits on a component that hangs). */
  start(): void {
    this.lastSampleAtMs = Date.now();
    this.timer = setInterval(() => this.check(Date.now()), Math.min(1000, this.periodMs)).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.endStall(Date.now());
  }

  /** Each sample as it is taken: its time, and the server's /stats when it answered (undefined when it did not). */
  sample(atMs: number, stats: ServerStats | undefined, serverAnswered: boolean): void {
    this.lastSampleAtMs = Date.now();
    if (serverAnswered) this.endStall(atMs);
    else this.check(atMs, 'the server did not answer GET /stats');
    if (!stats) return;
    const s = stats as StatsWithDeaths;
    const restarts = s.workerDeaths ?? s.workerRestarts;
    this.restartsAtStart ??= restarts;
    const died = restarts - this.restartsAtStart;
    if (died > this.restartsSeen) {
      const lost = s.streamsLost ?? 0;
      const msg = `server worker died and was replaced (${died} so far${lost ? `, ${lost} streams lost with them` : ''})`;
      this.restartsSeen = died;
      this.lostSeen = lost;
      this.note('worker-died', atMs, msg, /^server worker died/);
    }
  }

  private check(now: number, why = 'no sample could be taken (a component does not answer)'): void {
    if (this.stalledSinceMs !== undefined) return;
    const quiet = now - this.lastSampleAtMs;
    if (why.startsWith('the server') || quiet >= this.stallAfterMs) {
      this.stalledSinceMs = why.startsWith('the server') ? now : this.lastSampleAtMs;
      this.onEvent({ atMs: now, kind: 'stall', message: `stalled: ${why}` });
    }
  }

  private endStall(now: number): void {
    if (this.stalledSinceMs === undefined) return;
    const seconds = (now - this.stalledSinceMs) / 1000;
    this.stalledSinceMs = undefined;
    const msg = `the run stalled for ${seconds.toFixed(1)} s (no answer from a component: figures of that time are missing or late)`;
    this.reasons.push(msg);
    this.onEvent({ atMs: now, kind: 'stall-over', message: msg });
  }

  private note(kind: HealthEvent['kind'], atMs: number, message: string, replaces: RegExp): void {
    const i = this.reasons.findIndex((r) => replaces.test(r));
    if (i >= 0) this.reasons[i] = message;
    else this.reasons.push(message);
    this.onEvent({ atMs, kind, message });
  }

  /** Streams the server reported lost with dead workers (0 when it does not say). */
  get streamsLost(): number {
    return this.lostSeen;
  }
}
