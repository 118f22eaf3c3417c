/**
 * The `express` engine: comet streams routed by express (its router, request and response prototypes) on top of
 * node:http. Kept to measure what a framework costs per held stream; the API is express in the supervisor anyway.
 */
import express from 'express';
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
  const server = createLimitedServer(options, app);
  server.on('upgrade', streams.upgrade);
  return {
    hub: streams.hub,
    listen: () => listenShared(server, options),
    stopAccepting: () => closeServer(server),
    connections: () => streams.open,
  };
}
