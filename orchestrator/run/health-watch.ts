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
  /** When the last sample arrived, on this watch's own clock (this.now()). */
  private lastSampleAtMs: number;
  private stalledSinceMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly periodMs: number;
  private readonly stallAfterMs: number;
  private readonly onEvent: (e: HealthEvent) => void;
  private readonly now: () => number;

  /**
   * A stall: a sample in which the server's GET /stats failed (no answer within its timeout), or no sample at all for
   * `stallAfterMs` (5 periods, at least 5 s: on two saturated cores samples stretch to 3-12 s apart without anything
   * being wrong). Its start and end are read on this watch's own clock, never from a sample's start time: a sample
   * arrives up to 2.5 periods after it started, and mixing the two printed "stalled for -0.5 s" in a 1,000,000 run.
   */
  constructor(periodMs: number, onEvent: (e: HealthEvent) => void, stallAfterMs = Math.max(5000, 5 * periodMs), now: () => number = Date.now) {
    this.periodMs = periodMs;
    this.stallAfterMs = stallAfterMs;
    this.onEvent = onEvent;
    this.now = now;
    this.lastSampleAtMs = now();
  }

  /** Starts the watchdog that notices samples that stop coming (the sampler waits on a component that hangs). */
  start(): void {
    this.lastSampleAtMs = this.now();
    this.timer = setInterval(() => this.check(), Math.min(1000, this.periodMs)).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.endStall();
  }

  /** Each sample as it arrives: its start time, the server's /stats when it answered, and false when its request failed. */
  sample(atMs: number, stats: ServerStats | undefined, serverAnswered: boolean): void {
    this.lastSampleAtMs = this.now();
    if (serverAnswered) this.endStall();
    else this.startStall('the server did not answer GET /stats', this.lastSampleAtMs);
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

  /** The watchdog: no sample for `stallAfterMs` is a stall that began when the last one arrived. */
  private check(): void {
    if (this.now() - this.lastSampleAtMs >= this.stallAfterMs) this.startStall('no sample could be taken (a component does not answer)', this.lastSampleAtMs);
  }

  private startStall(why: string, sinceMs: number): void {
    if (this.stalledSinceMs !== undefined) return;
    this.stalledSinceMs = sinceMs;
    this.onEvent({ atMs: this.now(), kind: 'stall', message: `stalled: ${why}` });
  }

  private endStall(): void {
    if (this.stalledSinceMs === undefined) return;
    const now = this.now();
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
