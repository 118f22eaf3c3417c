/**
 * Routed sends: autocannon drives `POST /send/:id` at a steady overall rate, each request to a random id among the
 * planned connections (autocannon's `setupRequest` hook changes the path per request). autocannon measures the
 * sustained request rate and the HTTP round trip; the load generators' HDR histograms (reset just before) give the
 * delivery latency from the server accepting a send to the client parsing it.
 */
import autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { latencyByLoadgen, resetAllLatency, sumStatus } from './latency.ts';
import type { SendsOutcome } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';

/** Enough concurrent HTTP connections that a slow answer does not hold the rate down. */
const CONNECTIONS = 16;

/** A random connection id of the plan, each load generator weighted by its share. */
export function randomIdPicker(loadgens: Array<{ startIndex: number; connections: number }>): () => string {
  const total = loadgens.reduce((a, l) => a + l.connections, 0);
  return () => {
    let k = Math.floor(Math.random() * total);
    for (const l of loadgens) {
      if (k < l.connections) return String(l.startIndex + k);
      k -= l.connections;
    }
    return String(loadgens[0]!.startIndex);
  };
}

export async function sendsPhase(ctx: PhaseContext, rate: number, seconds: number): Promise<SendsOutcome> {
  await resetAllLatency(ctx.loadgens);
  const before = await sumStatus(ctx.loadgens, 'messages');
  const pick = randomIdPicker(ctx.plan.loadgens);
  const body = 'hello from comet-lab';
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: ctx.server.url,
        connections: Math.min(CONNECTIONS, rate),
        overallRate: rate,
        duration: seconds,
        requests: [{
          method: 'POST',
          path: '/send/0',
          headers: { 'content-type': 'text/plain' },
          body,
          setupRequest: (req) => ({ ...req, path: `/send/${pick()}` }),
        }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    const stop = () => instance.stop();
    ctx.signal.addEventListener('abort', stop, { once: true });
  });
  // Messages in flight when autocannon stopped still arrive; give them a moment before reading the histograms.
  await sleep(500, undefined, { signal: ctx.signal }).catch(() => undefined);
  const after = await sumStatus(ctx.loadgens, 'messages');
  return {
    askedRate: rate,
    seconds: result.duration,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    sustainedRate: result.duration > 0 ? result['2xx'] / result.duration : 0,
    requestLatencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    deliveryMs: await latencyByLoadgen(ctx.loadgens),
    messagesReceived: after.total - before.total,
  };
}
