/**
 * Ramp: asks each load generator for its share of N at its share of the rate (POST /ramp), then watches their
 * /status until N are held, every connection was attempted (retries included), or nothing was gained for
 * `stallSeconds`. Polled here rather than read from the 1 s samples so the time to reach N is within one poll: every
 * 0.2 s with a few load generators, less often with many (each poll is one request per load generator, and each of
 * those asks every child process: at 21 load generators of 3 processes, 5 polls a second were 315 IPC round trips a
 * second on 2 cores that the ramp itself needs).
 *
 * The load generators pace themselves (loadgen/pace-controller.ts); the ramp records what they settled on and why:
 * `pace` in the outcome (run.json), with one point a second of the summed rate, the connections held and the reason.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadgenStatus, PaceReason } from '../../shared/contracts.ts';
import { mergePaces } from '../../shared/pace.ts';
import { rateShares } from '../plan/planner.ts';
import { loadgenStatus, ramp } from './control.ts';
import type { RampOutcome, RampPace } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';

/** Poll period: 0.2 s, plus 50 ms per load generator beyond 4, at most 1 s. */
export function rampPollMs(loadgens: number): number {
  return Math.min(1000, Math.max(200, 50 * loadgens));
}

export async function rampPhase(ctx: PhaseContext, stallSeconds: number): Promise<RampOutcome> {
  const rates = rateShares(ctx.plan);
  const pollMs = rampPollMs(ctx.loadgens.length);
  const t0 = Date.now();
  await Promise.all(ctx.loadgens.map((l, i) => ramp(l.url, { target: ctx.plan.loadgens[i]!.connections, rate: rates[i]! }, l.token)));
  ctx.setTarget(ctx.plan.n);
  const outcome: RampOutcome = { target: ctx.plan.n, reached: 0, seconds: 0, endedBy: 'aborted', askedRate: ctx.plan.rampRate, pollSeconds: pollMs / 1000 };
  const pace = new PaceRecord(rates.reduce((a, b) => a + b, 0));
  let lastGainAt = t0;
  let last: LoadgenStatus[] = [];
  try {
    for (;;) {
      await sleep(pollMs, undefined, { signal: ctx.signal });
      const statuses = await Promise.all(ctx.loadgens.map((l) => loadgenStatus(l.url).catch(() => undefined)));
      const now = Date.now();
      const answered = statuses.filter((s): s is LoadgenStatus => s !== undefined);
      if (answered.length > 0) last = answered;
      const active = answered.reduce((a, s) => a + s.active, 0);
      pace.add((now - t0) / 1000, active, answered);
      if (active > outcome.reached) {
        outcome.reached = active;
        lastGainAt = now;
      }
      if (active >= ctx.plan.n) {
        outcome.secondsToTarget = (now - t0) / 1000;
        outcome.endedBy = 'target';
        break;
      }
      if (answered.length === statuses.length && answered.every((s) => s.rampDone && s.connecting === 0)) {
        outcome.endedBy = 'all-attempted';
        break;
      }
      if (now - lastGainAt > stallSeconds * 1000) {
        outcome.endedBy = 'stalled';
        break;
      }
    }
  } catch (err) {
    if (!ctx.signal.aborted) throw err; // aborted: the run says why; the ramp keeps what it reached
  }
  outcome.seconds = (Date.now() - t0) / 1000;
  const p = pace.result(last);
  if (p) outcome.pace = p;
  return outcome;
}

/** Gathers the load generators' paces over the ramp: one timeline point a second, the reasons, the settled rate. */
class PaceRecord {
  private readonly asked: number;
  private readonly timeline: RampPace['timeline'] = [];
  private nextSecond = 0;

  constructor(asked: number) {
    this.asked = asked;
  }

  add(t: number, active: number, statuses: LoadgenStatus[]): void {
    const p = mergePaces(statuses.map((s) => s.pace));
    if (!p || t < this.nextSecond) return;
    this.nextSecond = Math.floor(t) + 1;
    this.timeline.push({ t: Math.round(t * 10) / 10, active, currentPerSecond: p.currentPerSecond, reason: p.reason, ...(p.connectP90Ms !== undefined ? { connectP90Ms: p.connectP90Ms } : {}) });
  }

  result(last: LoadgenStatus[]): RampPace | undefined {
    const final = mergePaces(last.map((s) => s.pace));
    if (!final) return undefined;
    // Settled: the median summed rate over the second half of the ramp (after slow start), and the reason given
    // most often there (while the ramp still had connections to open: 'done' points are left out).
    const open = this.timeline.filter((x) => x.reason !== 'done');
    const tail = open.slice(Math.floor(open.length / 2));
    const rates = tail.map((x) => x.currentPerSecond).sort((a, b) => a - b);
    const counts = new Map<PaceReason, number>();
    for (const x of tail) counts.set(x.reason, (counts.get(x.reason) ?? 0) + 1);
    let reason: PaceReason = final.reason;
    let most = 0;
    for (const [r, n] of counts) if (n > most) [reason, most] = [r, n];
    const sum = (f: (s: LoadgenStatus) => number | undefined) => last.reduce((a, s) => a + (f(s) ?? 0), 0);
    return {
      askedPerSecond: this.asked,
      settledPerSecond: rates.length ? rates[Math.floor(rates.length / 2)]! : final.currentPerSecond,
      reason,
      decreases: final.decreases,
      connectRetries: sum((s) => s.connectRetries),
      connectTimeouts: sum((s) => s.errors.timeout),
      timeline: this.timeline,
    };
  }
}
