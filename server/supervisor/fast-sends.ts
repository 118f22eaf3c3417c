/**
 * `POST /send/:id` answered by node:http alone, before express: the same checks (token digest in constant time,
 * id pattern, 64 KiB body) and the same JSON as api-app.ts, without express's routing, middleware and response
 * helpers. A send that does not fit the plain case (bad id, wrong token, a body over the limit or chunked) goes to
 * express untouched, which answers it as it always did. Everything else is express's.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { errorCode, SERVER_NAME } from '../http/responses.ts';
import { MAX_BODY_BYTES, type ApiDeps } from './api-app.ts';

const SEND_URL = /^\/send\/([A-Za-z0-9_-]{1,64})$/;

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { Server: SERVER_NAME, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** `app` behind a fast path for plain routed sends. */
export function withFastSends(app: RequestListener, deps: Pick<ApiDeps, 'send' | 'epoch' | 'adminToken'>): RequestListener {
  const token = deps.adminToken === undefined ? undefined : createHash('sha256').update(`Bearer ${deps.adminToken}`).digest();
  return (req: IncomingMessage, res: ServerResponse) => {
    const m = req.method === 'POST' ? SEND_URL.exec(req.url ?? '') : null;
    const declared = Number(req.headers['content-length'] ?? 0);
    const plain =
      m !== null &&
      req.headers['transfer-encoding'] === undefined &&
      declared <= MAX_BODY_BYTES &&
      (token === undefined || timingSafeEqual(createHash('sha256').update(req.headers.authorization ?? '').digest(), token));
    if (!plain) return app(req, res);
    const id = m[1]!;
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.once('error', () => req.socket.destroy());
    req.once('end', () => {
      void deps.send(id, parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8')).then((r) => {
        const eventId = `${deps.epoch}-${r.seq}`;
        if (r.queued) answer(res, 202, { id, delivered: 0, queued: true, seq: r.seq, eventId, sentAtMs: r.sentAtMs });
        else if (r.delivered === 0) answer(res, 404, { error: errorCode(404), message: `no stream open for id ${id}`, id, delivered: 0 });
        else answer(res, 200, { id, delivered: r.delivered, seq: r.seq, eventId, sentAtMs: r.sentAtMs });
      });
    });
  };
}
