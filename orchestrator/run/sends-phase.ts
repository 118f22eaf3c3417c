/**
 * Routed sends: autocannon drives `POST /send/:id` at a steady overall rate, each request to a random id among the
 * connections active when the phase starts (each load generator's `GET /active-ids` sample, weighted by how many
 * it holds), so a ramp that fell short does not turn sends into 404s. autocannon's `setupRequest` hook changes the
 * path per request; it measures the sustained request rate and the HTTP round trip. The load generators' HDR
 * histograms (reset just before) give the delivery latency from the server accepting a send to the client parsing it.
 */
import autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { activeIds } from './control.ts';
import { latencyByLoadgen, resetAllLatency, sumStatus } from './latency.ts';
import type { SendsOutcome } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';

/** autocannon's concurrent HTTP connections by default: enough that 20,000 sends/s do not wait on round trips. */
export const DEFAULT_SENDS_CONNECTIONS = 64;
/** Ids sampled per load generator: plenty for a random spread, small to fetch (about 70 KB of JSON). */
const IDS_PER_LOADGEN = 10_000;

/** Where the ids of one load generator come from: a sample of its active ones, or (if it cannot say) its planned range. */
export interface IdSource {
  /** How many connections it holds (the weight of its share of the sends). */
  weight: number;
  ids?: number[];
  planned?: { startIndex: number; connections: number };
}

/** A random id, each source weighted by its connections, uniform within its sample (or its planned range). */
export function randomIdPicker(sources: IdSource[]): () => string {
  const live = sources.filter((s) => s.weight > 0 && ((s.ids?.length ?? 0) > 0 || (s.planned?.connections ?? 0) > 0));
  const total = live.reduce((a, s) => a + s.weight, 0);
  return () => {
    let k = Math.random() * total;
    const s = live.find((x) => (k -= x.weight) < 0) ?? live.at(-1);
    if (!s) return '0';
    if (s.ids?.length) return String(s.ids[Math.floor(Math.random() * s.ids.length)]);
    return String(s.planned!.startIndex + Math.floor(Math.random() * s.planned!.connections));
  };
}

/** Each load generator's sample of active ids; one that does not answer falls back to its planned range. */
export async function idSources(ctx: PhaseContext): Promise<{ sources: IdSource[]; fromPlan: number }> {
  let fromPlan = 0;
  const sources = await Promise.all(ctx.loadgens.map(async (l, i): Promise<IdSource> => {
    try {
      const s = await activeIds(l.url, IDS_PER_LOADGEN);
      return { weight: s.active, ids: s.ids };
    } catch {
      fromPlan++;
      const p = ctx.plan.loadgens[i]!;
      return { weight: p.connections, planned: { startIndex: p.startIndex, connections: p.connections } };
    }
  }));
  return { sources, fromPlan };
}

export async function sendsPhase(ctx: PhaseContext, rate: number, seconds: number, connections = DEFAULT_SENDS_CONNECTIONS): Promise<SendsOutcome> {
  await resetAllLatency(ctx.loadgens);
  const before = await sumStatus(ctx.loadgens, 'messages');
  const { sources, fromPlan } = await idSources(ctx);
  const pick = randomIdPicker(sources);
  const body = 'hello from comet-lab';
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: ctx.server.url,
        connections: Math.max(1, Math.min(connections, rate)),
        overallRate: rate,
        duration: seconds,
        requests: [{
          method: 'POST',
          path: '/send/0',
          headers: { 'content-type': 'text/plain', ...(ctx.server.token ? { authorization: `Bearer ${ctx.server.token}` } : {}) },
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
  const notFound = result.statusCodeStats?.['404']?.count ?? 0;
  return {
    askedRate: rate,
    connections: Math.max(1, Math.min(connections, rate)),
    seconds: result.duration,
    requests: result.requests.total,
    accepted: result['2xx'],
    notFound,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    idsFromPlan: fromPlan,
    sustainedRate: result.duration > 0 ? result['2xx'] / result.duration : 0,
    requestLatencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    deliveryMs: await latencyByLoadgen(ctx.loadgens),
    messagesReceived: after.total - before.total,
  };
}
