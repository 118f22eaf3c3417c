/**
 * The HTTP API, served by express in the supervisor whatever the streaming engine: POST /send/:id, POST /broadcast,
 * GET /stats, GET /metrics, GET /health. Errors are JSON `{error, message}` with the status.
 *
 * With a token set, only GET/HEAD of /health, /metrics and /stats (without ?gc=1) are open; everything else needs
 * `Authorization: Bearer <token>`. An error answered before the request body was read (401, 413) closes the
 * connection, so the body is never read: a 401 to a 10 GiB upload once read 9.5 GiB in 8.5 s on keep-alive, and
 * body-parser read a declared 10,000,000,000-byte body to its end (30 s, then 408) before it answered 413.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { lingerOnClose } from '../http/linger.ts';
import { ID_PATTERN } from '../http/routes.ts';
import { SERVER_NAME, errorCode } from '../http/responses.ts';
import type { RouteResult } from './router.ts';
import { bearerCheck } from './admin-token.ts';
import { sendAnswerBody } from './send-answer.ts';
import { formatEventId } from '../../shared/event-id.ts';
import { ownCgroupMemory } from '../../shared/own-cgroup-memory.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export interface ApiDeps {
  send(id: string, body: string): Promise<RouteResult>;
  broadcast(body: string): Promise<RouteResult>;
  stats(gc: boolean): Promise<unknown>;
  metrics(): Promise<{ contentType: string; text: string }>;
  health(): unknown;
  /** This server run's epoch: the send and broadcast answers give `eventId` (`<epoch>-<seq>`) with it. */
  epoch: string;
  /** When set, every request but the open reads demands `Authorization: Bearer <token>`. */
  adminToken: string | undefined;
  /** ?gc=1 runs at most once per this; a sooner one is 429 with Retry-After. */
  gcMinIntervalMs: number;
}

const OPEN_READS = new Set(['/health', '/metrics', '/stats']);

function fail(res: Response, status: number, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ error: errorCode(status), message, ...extra });
}

/**
 * Answers an error and, when a request body is still coming from a client, closes the connection instead of reading
 * it. A proxying worker (Unix socket) is not closed on: it stops sending the body itself when it sees the error, and
 * closing under its writes would turn the answer into EPIPE there.
 */
function failAndClose(req: Request, res: Response, status: number, message: string): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.complete && req.socket.remoteAddress !== undefined) {
    res.setHeader('Connection', 'close');
    lingerOnClose(req.socket);
  }
  fail(res, status, message);
}

/** The request body as text, at most MAX_BODY_BYTES; a bigger one is 413 at once, unread. */
function readBody(req: Request, res: Response, next: NextFunction): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return failAndClose(req, res, 413, `body over ${MAX_BODY_BYTES} bytes`);
  const parts: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) return void parts.push(chunk);
    req.off('data', onData);
    req.pause();
    failAndClose(req, res, 413, `body over ${MAX_BODY_BYTES} bytes`);
  };
  req.on('data', onData);
  req.once('end', () => {
    if (size > MAX_BODY_BYTES) return;
    (req as Request & { text: string }).text = Buffer.concat(parts).toString('utf8');
    next();
  });
  req.once('error', () => req.socket.destroy());
}

export function createApiApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const authorized = bearerCheck(deps.adminToken);
  const gcAsked = (req: Request) => ([] as unknown[]).concat(req.query.gc ?? []).includes('1');
  let gcAtMs = -Infinity;

  app.use((req, res, next) => {
    res.setHeader('Server', SERVER_NAME);
    if (deps.adminToken === undefined) return next();
    const open = (req.method === 'GET' || req.method === 'HEAD') && OPEN_READS.has(req.path) && !gcAsked(req);
    if (open || authorized(req.get('authorization'))) return next();
    res.setHeader('WWW-Authenticate', 'Bearer');
    failAndClose(req, res, 401, 'this request needs Authorization: Bearer <COMET_ADMIN_TOKEN> (only GET /health, /metrics and /stats are open)');
  });
  const text = (req: Request) => (req as Request & { text?: string }).text ?? '';

  app.post('/send/:id', (req, res, next) => {
    if (!ID_PATTERN.test(req.params.id as string)) return failAndClose(req, res, 400, 'id must match [A-Za-z0-9_-]{1,64}');
    next();
  }, readBody, async (req, res) => {
    const id = req.params.id as string;
    const { status, body } = sendAnswerBody(id, await deps.send(id, text(req)), deps.epoch);
    res.status(status).json(body);
  });

  app.post('/broadcast', readBody, async (req, res) => {
    const r = await deps.broadcast(text(req));
    res.json({ delivered: r.delivered, workers: r.workers, seq: r.seq, eventId: formatEventId(deps.epoch, r.seq), sentAtMs: r.sentAtMs });
  });

  app.get('/stats', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const gc = gcAsked(req);
    if (gc) {
      const waitMs = gcAtMs + deps.gcMinIntervalMs - Date.now();
      if (waitMs > 0) {
        const retryAfterSeconds = Math.ceil(waitMs / 1000);
        res.setHeader('Retry-After', String(retryAfterSeconds));
        return fail(res, 429, `?gc=1 runs at most once per ${deps.gcMinIntervalMs / 1000} s; next in ${retryAfterSeconds} s`, { retryAfterSeconds });
      }
      gcAtMs = Date.now();
    }
    res.json({ ...((await deps.stats(gc)) as object), cgroupMemory: ownCgroupMemory() });
  });

  app.get('/metrics', async (_req, res) => {
    const m = await deps.metrics();
    res.setHeader('Content-Type', m.contentType);
    res.send(m.text);
  });

  app.get('/health', (_req, res) => {
    res.json(deps.health());
  });

  app.use((req, res) => failAndClose(req, res, 404, `no such path: ${req.method} ${req.path}`));

  app.use((err: { status?: number; statusCode?: number; message?: string }, req: Request, res: Response, _next: NextFunction) => {
    const status = err.status ?? err.statusCode ?? 500;
    failAndClose(req, res, status, status >= 500 ? 'internal error' : (err.message ?? 'bad request'));
  });
  return app;
}
