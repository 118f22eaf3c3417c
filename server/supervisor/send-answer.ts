/**
 * The answer to a routed send, as every API path gives it (express in api-app.ts, node:http in fast-sends.ts, the
 * lean path in lean-sends.ts): 200 with what was delivered, 202 when it is kept for a poller between polls, 404 when
 * no stream has the id.
 */
import { formatEventId } from '../../shared/event-id.ts';
import { errorCode } from '../http/responses.ts';
import type { RouteResult } from './router.ts';

export function sendAnswerBody(id: string, r: RouteResult, epoch: string): { status: number; body: Record<string, unknown> } {
  if (r.queued) return { status: 202, body: { id, delivered: 0, queued: true, seq: r.seq, eventId: formatEventId(epoch, r.seq), sentAtMs: r.sentAtMs } };
  if (r.delivered === 0) return { status: 404, body: { error: errorCode(404), message: `no stream open for id ${id}`, id, delivered: 0 } };
  return { status: 200, body: { id, delivered: r.delivered, seq: r.seq, eventId: formatEventId(epoch, r.seq), sentAtMs: r.sentAtMs } };
}
