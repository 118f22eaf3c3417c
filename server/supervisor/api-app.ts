/**
 * The HTTP API, served by express in the supervisor whatever the streaming engine: POST /send/:id, POST /broadcast,
 * GET /stats, GET /metrics, GET /health. Errors are JSON `{error, message}` with the status.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ID_PATTERN } from '../http/routes.ts';
import { SERVER_NAME, errorCode } from '../http/responses.ts';
import type { RouteResult } from './router.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export interface ApiDeps {
  send(id: string, body: string): Promise<RouteResult>;
  broadcast(body: string): Promise<RouteResult>;
  stats(gc: boolean): Promise<unknown>;
  metrics(): Promise<{ contentType: string; text: string }>;
  health(): unknown;
  /** When set, send and broadcast demand `Authorization: Bearer <token>`. */
  adminToken: string | undefined;
}

function fail(res: Response, status: number, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ error: errorCode(status), message, ...extra });
}

export function createApiApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req, res, next) => {
    res.setHeader('Server', SERVER_NAME);
    next();
  });

  const authorize = (req: Request, res: Response, next: NextFunction) => {
    if (deps.adminToken !== undefined && req.get('authorization') !== `Bearer ${deps.adminToken}`) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return fail(res, 401, 'send and broadcast need Authorization: Bearer <COMET_ADMIN_TOKEN>');
    }
    next();
  };
  // any content type is the message, as text; over 64 KiB is 413 (body-parser's limit error, mapped below)
  const body = express.text({ type: () => true, limit: MAX_BODY_BYTES, defaultCharset: 'utf-8' });
  const text = (req: Request) => (typeof req.body === 'string' ? req.body : '');

  app.post('/send/:id', authorize, (req, res, next) => {
    if (!ID_PATTERN.test(req.params.id as string)) return fail(res, 400, 'id must match [A-Za-z0-9_-]{1,64}');
    next();
  }, body, async (req, res) => {
    const id = req.params.id as string;
    const r = await deps.send(id, text(req));
    if (r.delivered === 0) return fail(res, 404, `no stream open for id ${id}`, { id, seq: r.seq, delivered: 0 });
    res.json({ id, delivered: r.delivered, seq: r.seq, sentAtMs: r.sentAtMs });
  });

  app.post('/broadcast', authorize, body, async (req, res) => {
    const r = await deps.broadcast(text(req));
    res.json({ delivered: r.delivered, workers: r.workers, seq: r.seq, sentAtMs: r.sentAtMs });
  });

  app.get('/stats', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await deps.stats(req.query.gc === '1'));
  });

  app.get('/metrics', async (_req, res) => {
    const m = await deps.metrics();
    res.setHeader('Content-Type', m.contentType);
    res.send(m.text);
  });

  app.get('/health', (_req, res) => {
    res.json(deps.health());
  });

  app.use((req, res) => fail(res, 404, `no such path: ${req.method} ${req.path}`));

  app.use((err: { status?: number; statusCode?: number; type?: string; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status ?? err.statusCode ?? 500;
    if (status === 413) return fail(res, 413, `body over ${MAX_BODY_BYTES} bytes`);
    fail(res, status, status >= 500 ? 'internal error' : (err.message ?? 'bad request'));
  });
  return app;
}
