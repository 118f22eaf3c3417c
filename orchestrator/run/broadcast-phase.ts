/**
 * Broadcast: resets the load generators' latency histograms, notes each one's message count and active
 * connections, publishes one message (POST /broadcast), and while the server answers polls until every load
 * generator counted one more message per active connection, or `timeoutSeconds` passed after the answer. Fan-out
 * time is the latest arrival (max lastMessageAtMs) minus the publish time: the time to reach every connection, not
 * the average one. The answer gets a time that grows with the connections held (broadcastAnswerTimeoutMs); when it
 * is still late, the broadcast was still written: the fan-out is measured from the load generators' counters all
 * the same, and the outcome says the answer was late (no serverDelivered).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowMs } from '../../shared/clock.ts';
import type { LabError } from '../../shared/errors.ts';
import { broadcast, broadcastAnswerTimeoutMs } from './control.ts';
import { latencyByLoadgen, resetAllLatency, sumStatus } from './latency.ts';
import type { BroadcastOutcome } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';

const POLL_MS = 100;

type Answer = { delivered?: number; err?: undefined } | { err: LabError };

/** `answerTimeoutMs`: how long POST /broadcast may take (default: scaled with the active connections). */
export async function broadcastPhase(ctx: PhaseContext, timeoutSeconds: number, answerTimeoutMs?: number): Promise<BroadcastOutcome> {
  await resetAllLatency(ctx.loadgens);
  const before = await sumStatus(ctx.loadgens, 'messages');
  const active = await sumStatus(ctx.loadgens, 'active');
  const answerMs = answerTimeoutMs ?? broadcastAnswerTimeoutMs(active.total);
  const publishedAtMs = nowMs();
  let settledAt: number | undefined;
  const answer: Promise<Answer> = broadcast(ctx.server.url, `broadcast from comet-lab at ${Math.round(publishedAtMs)}`, answerMs, ctx.server.token)
    .then((a): Answer => a, (err: LabError): Answer => ({ err }))
    .finally(() => (settledAt = Date.now()));
  const outcome: BroadcastOutcome = { publishedAtMs, expected: active.total, received: 0, complete: false, answerTimeoutMs: answerMs, deliveryMs: {} };
  const startedAt = Date.now();
  // Until the answer (or its timeout), then `timeoutSeconds` more for the last deliveries.
  const deadline = () => (settledAt ?? startedAt + answerMs) + timeoutSeconds * 1000;
  let last = before;
  try {
    while (Date.now() < deadline()) {
      await sleep(POLL_MS, undefined, { signal: ctx.signal });
      last = await sumStatus(ctx.loadgens, 'messages');
      outcome.received = last.total - before.total;
      if (last.each.every((m, i) => m - before.each[i]! >= active.each[i]!)) {
        outcome.complete = true;
        break;
      }
      // Refused or rejected (not late): nothing was published; no point waiting for deliveries.
      if (settledAt !== undefined && outcome.received === 0) {
        const a = await answer;
        if (a.err && a.err.code !== 'LAB_ERR_COMPONENT_TIMEOUT') throw a.err;
      }
    }
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  }
  const a = await answer;
  if (a.err) {
    if (a.err.code !== 'LAB_ERR_COMPONENT_TIMEOUT' || outcome.received === 0) {
      if (!ctx.signal.aborted) throw a.err;
    } else outcome.answerLate = true;
  } else outcome.serverDelivered = a.delivered;
  const latest = Math.max(...last.lastMessageAtMs);
  if (outcome.received > 0 && latest >= publishedAtMs) outcome.fanOutMs = latest - publishedAtMs;
  outcome.deliveryMs = await latencyByLoadgen(ctx.loadgens);
  return outcome;
}
