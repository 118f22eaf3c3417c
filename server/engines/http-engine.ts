/** The `http` engine: comet streams on Node's http module (llhttp parser, IncomingMessage, ServerResponse), WebSocket with the `ws` library. */
import type { Engine, EngineOptions } from './engine.ts';
import { closeServer, createLimitedServer, HttpStreams, listenShared } from './http-streams.ts';

export function createHttpEngine(options: EngineOptions): Engine {
  const streams = new HttpStreams(options);
  const server = createLimitedServer(options, streams.handle);
  server.on('upgrade', streams.upgrade);
  return {
    hub: streams.hub,
    listen: () => listenShared(server, options),
    stopAccepting: () => closeServer(server),
    connections: () => streams.open,
  };
}
