/**
 * The `express` engine: comet streams routed by express (its router, request and response prototypes) on top of
 * node:http. Kept to measure what a framework costs per held stream; the API is express in the supervisor anyway.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Engine, EngineOptions } from './engine.ts';
import { closeServer, createLimitedServer, HttpStreams, listenShared } from './http-streams.ts';

export function createExpressEngine(options: EngineOptions): Engine {
  const streams = new HttpStreams(options);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/test/:id', streams.handle);
  app.get('/sse/:id', streams.handle);
  app.get('/poll/:id', streams.handle);
  app.get('/ws/:id', streams.handle); // a /ws/ request that is not an upgrade (upgrades go to `upgrade`)
  // everything else (API proxying, 400/404/501 answers) takes the same decisions as every other engine
  app.use(streams.handle);
  // express's router throws URIError on a bad escape in a path parameter (/test/%E0%A4%A) and its default handler
  // printed the whole stack: one line instead, and the answer every engine gives those bytes (400, the id is bad)
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    options.warn(`${req.method} ${req.originalUrl.slice(0, 120)}: ${err.name}: ${err.message}`);
    if (res.headersSent) return void res.destroy();
    if (err instanceof URIError) return streams.handle(req, res);
    options.counters.reject(500);
    res.status(500).json({ error: 'internal_server_error', message: 'internal error' });
  });
  const server = createLimitedServer(options, app);
  server.on('upgrade', streams.upgrade);
  return {
    hub: streams.hub,
    listen: () => listenShared(server, options),
    stopAccepting: () => closeServer(server),
    connections: () => streams.open,
  };
}
