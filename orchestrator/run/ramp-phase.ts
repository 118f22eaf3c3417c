/**
 * Ramp: asks each load generator for its share of N at its share of the rate (POST /ramp), then watches their
 * /status five times a second until N are held, every connection was attempted, or nothing was gained for
 * `stallSeconds`. Polled here rather than read from the 1 s samples so the time to reach N is within 0.2 s.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { rateShares } from '../plan/planner.ts';
import { loadgenStatus, ramp } from './control.ts';
import type { RampOutcome } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';

const POLL_MS = 200;

export async function rampPhase(ctx: PhaseContext, stallSeconds: number): Promise<RampOutcome> {
  const rates = rateShares(ctx.plan);
  const t0 = Date.now();
  await Promise.all(ctx.loadgens.map((l, i) => ramp(l, { target: ctx.plan.loadgens[i]!.connections, rate: rates[i]! })));
  ctx.setTarget(ctx.plan.n);
  const outcome: RampOutcome = { target: ctx.plan.n, reached: 0, seconds: 0, endedBy: 'aborted', askedRate: ctx.plan.rampRate };
  let lastGainAt = t0;
  try {
    for (;;) {
      await sleep(POLL_MS, undefined, { signal: ctx.signal });
      const statuses = await Promise.all(ctx.loadgens.map((l) => loadgenStatus(l.url).catch(() => undefined)));
      const now = Date.now();
      const answered = statuses.filter((s): s is LoadgenStatus => s !== undefined);
      const active = answered.reduce((a, s) => a + s.active, 0);
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
  return outcome;
}
