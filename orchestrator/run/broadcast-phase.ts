/**
 * Broadcast: resets the load generators' latency histograms, notes each one's message count and active
 * connections, publishes one message (POST /broadcast), then polls until every load generator counted one more
 * message per active connection, or `timeoutSeconds` passed. Fan-out time is the latest arrival
 * (max lastMessageAtMs) minus the publish time: the time to reach every connection, not the average one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowMs } from '../../shared/clock.ts';
import { broadcast } from './control.ts';
import { latencyByLoadgen, resetAllLatency, sumStatus } from './latency.ts';
import type { BroadcastOutcome } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';

const POLL_MS = 100;

export async function broadcastPhase(ctx: PhaseContext, timeoutSeconds: number): Promise<BroadcastOutcome> {
  await resetAllLatency(ctx.loadgens);
  const before = await sumStatus(ctx.loadgens, 'messages');
  const active = await sumStatus(ctx.loadgens, 'active');
  const publishedAtMs = nowMs();
  const answer = await broadcast(ctx.server.url, `broadcast from comet-lab at ${Math.round(publishedAtMs)}`);
  const outcome: BroadcastOutcome = { publishedAtMs, expected: active.total, serverDelivered: answer.delivered, received: 0, complete: false, deliveryMs: {} };
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = before;
  try {
    while (Date.now() < deadline) {
      await sleep(POLL_MS, undefined, { signal: ctx.signal });
      last = await sumStatus(ctx.loadgens, 'messages');
      outcome.received = last.total - before.total;
      if (last.each.every((m, i) => m - before.each[i]! >= active.each[i]!)) {
        outcome.complete = true;
        break;
      }
    }
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  }
  const latest = Math.max(...last.lastMessageAtMs);
  if (outcome.received > 0 && latest >= publishedAtMs) outcome.fanOutMs = latest - publishedAtMs;
  outcome.deliveryMs = await latencyByLoadgen(ctx.loadgens);
  return outcome;
}
