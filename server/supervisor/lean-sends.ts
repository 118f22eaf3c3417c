/**
 * A plain `POST /send/:id` as the supervisor's lean API path reads and answers it (lean-api.ts): the same checks
 * and the same JSON as api-app.ts (express), which still answers every request that is not plain.
 */
import type { RequestHead } from '../http/request-head.ts';
import { fullResponse } from '../http/responses.ts';
import { ID_PATTERN } from '../http/routes.ts';
import type { RouteResult } from './router.ts';
import { sendAnswerBody } from './send-answer.ts';

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

/** The answer to a routed send as an HTTP response (send-answer.ts: the same JSON as api-app.ts). */
export function sendAnswer(id: string, o: RouteResult, epoch: string, keepAlive: boolean): string {
  const { status, body } = sendAnswerBody(id, o, epoch);
  return fullResponse(status, JSON_TYPE, JSON.stringify(body), keepAlive);
}
