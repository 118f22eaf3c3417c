/**
 * A plain `POST /send/:id` as the supervisor's lean API path reads and answers it (lean-api.ts): the same checks
 * and the same JSON as api-app.ts (express), which still answers every request that is not plain.
 */
import type { RequestHead } from '../http/request-head.ts';
import { errorCode, fullResponse } from '../http/responses.ts';
import { ID_PATTERN } from '../http/routes.ts';
import { formatEventId } from '../../shared/event-id.ts';
import type { RouteResult } from './router.ts';

export { MAX_BODY_BYTES as MAX_SEND_BODY_BYTES } from './api-app.ts';
import { MAX_BODY_BYTES } from './api-app.ts';

const SEND_PATH = /^\/send\/([^/?#]*)(?:\?[^#]*)?$/;
const JSON_TYPE = 'application/json; charset=utf-8';

/** What a request for the send path is: not one (undefined), a bad id (null), or its id. */
export function sendTarget(head: RequestHead): string | null | undefined {
  if (head.method !== 'POST') return undefined;
  const m = SEND_PATH.exec(head.target);
  if (m === null) return undefined;
  return ID_PATTERN.test(m[1]!) ? m[1]! : null;
}

/** True for a send express would take as it is: a valid id, the token (checked by the caller), a small plain body. */
export function plainSend(head: RequestHead, authorized: boolean): boolean {
  return authorized && !head.chunkedBody && head.contentLength <= MAX_BODY_BYTES;
}

/** The answer to a routed send: 200, 202 (kept for a poller between polls) or 404 (no stream), as api-app.ts. */
export function sendAnswer(id: string, o: RouteResult, epoch: string, keepAlive: boolean): string {
  const eventId = (seq: number) => formatEventId(epoch, seq);
  let status = 200;
  let body: string;
  if (o.queued) {
    status = 202;
    body = JSON.stringify({ id, delivered: 0, queued: true, seq: o.seq, eventId: eventId(o.seq), sentAtMs: o.sentAtMs });
  } else if (o.delivered === 0) {
    status = 404;
    body = JSON.stringify({ error: errorCode(404), message: `no stream open for id ${id}`, id, delivered: 0 });
  } else {
    body = JSON.stringify({ id, delivered: o.delivered, seq: o.seq, eventId: eventId(o.seq), sentAtMs: o.sentAtMs });
  }
  return fullResponse(status, JSON_TYPE, body, keepAlive);
}
