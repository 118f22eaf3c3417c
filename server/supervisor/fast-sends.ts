/**
 * `POST /send/:id` answered by node:http alone, before express: the same checks (token digest in constant time,
 * id pattern, 64 KiB body) and the same JSON as api-app.ts, without express's routing, middleware and response
 * helpers. A send that does not fit the plain case (bad id, wrong token, a body over the limit or chunked) goes to
 * express untouched, which answers it as it always did. Everything else is express's.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { SERVER_NAME } from '../http/responses.ts';
import { bearerCheck } from './admin-token.ts';
import { MAX_BODY_BYTES, type ApiDeps } from './api-app.ts';
import { sendAnswerBody } from './send-answer.ts';

const SEND_URL = /^\/send\/([A-Za-z0-9_-]{1,64})$/;

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { Server: SERVER_NAME, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** `app` behind a fast path for plain routed sends. */
export function withFastSends(app: RequestListener, deps: Pick<ApiDeps, 'send' | 'epoch' | 'adminToken'>): RequestListener {
  const authorized = bearerCheck(deps.adminToken);
  return (req: IncomingMessage, res: ServerResponse) => {
    const m = req.method === 'POST' ? SEND_URL.exec(req.url ?? '') : null;
    const declared = Number(req.headers['content-length'] ?? 0);
    const plain =
      m !== null &&
      req.headers['transfer-encoding'] === undefined &&
      declared <= MAX_BODY_BYTES &&
      authorized(req.headers.authorization);
    if (!plain) return app(req, res);
    const id = m[1]!;
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.once('error', () => req.socket.destroy());
    req.once('end', () => {
      void deps.send(id, parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8')).then((r) => {
        const { status, body } = sendAnswerBody(id, r, deps.epoch);
        answer(res, status, body);
      });
    });
  };
}
