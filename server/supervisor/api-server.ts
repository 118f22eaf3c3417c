/**
 * The supervisor's HTTP server for the API: it takes the connections workers hand over (lean engines) and listens on
 * the internal Unix socket (http and express engines proxy to it). It caps the connections it holds: 2,021 idle
 * keep-alive API connections once took every file of a supervisor and /health answered ECONNRESET for 30 s. At the
 * cap, idle keep-alive connections are closed first; the last API_RESERVE places are kept for the reads monitoring
 * needs (GET /health, /metrics, /stats); past that a connection is answered 503 and closed. Idle connections close after apiIdleTimeoutMs.
 * A handed-over keep-alive connection whose next request is a stream (`/health` then `/test/a`) goes back to a
 * worker, so it gets the stream as on every engine.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import net from 'node:net';
import { errorResponse } from '../http/responses.ts';
import { route } from '../http/routes.ts';
import { API_RESERVE, FD_RESERVE } from '../config.ts';
import { restrictToOwner } from './api-socket.ts';
import type { LeanApi } from './lean-api.ts';

export interface ApiServerOptions {
  socketPath: string;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  /** This process's soft file limit (-1: unknown): the cap stays FD_RESERVE below it. */
  maxFds: number;
  /** Hands a connection back to a worker with the request head it carries; false when no worker can take it. */
  handBack(socket: net.Socket, head: Buffer): boolean;
  /** Counts a request answered with an error here (503 at the cap). */
  rejected(status: number): void;
  /** Serves plain routed sends on raw handles before node:http (lean-api.ts); absent: every connection is node:http's. */
  lean?: LeanApi;
}

export interface ApiServer {
  readonly server: Server;
  /** Connections held now (handed over and Unix-socket ones). */
  readonly connections: number;
  /** The cap in force (maxConnections, or less under a low file limit). */
  readonly cap: number;
  /** A connection a worker handed over, with the request bytes it read. */
  take(handle: unknown, bytes: Buffer): void;
  /** A connection the lean path handed on at its first request that is not a plain send, with the bytes it read. */
  fromLean(handle: unknown, bytes: Buffer): void;
  listen(): Promise<void>;
  close(): Promise<void>;
}

const RESERVED_PATHS = /^(GET|HEAD) \/(health|metrics|stats)[ ?]/;

/** The request's head as it came (reconstructed from what llhttp parsed): the worker parses it again. */
function headBytes(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

export function createApiServer(app: RequestListener, options: ApiServerOptions): ApiServer {
  const sockets = new Set<net.Socket>();
  const cap = options.maxFds > 0 ? Math.max(API_RESERVE + 1, Math.min(options.maxConnections, options.maxFds - FD_RESERVE)) : options.maxConnections;
  const live = () => {
    let n = options.lean?.count ?? 0;
    for (const s of sockets) if (!s.destroyed) n++;
    return n;
  };
  const toHttp = (handle: unknown, bytes: Buffer) => {
    const socket = handle instanceof net.Socket ? handle : new net.Socket({ handle: handle as never, readable: true, writable: true });
    if (bytes.length > 0) socket.unshift(bytes);
    server.emit('connection', socket);
  };
  const refuse = (socket: net.Socket, status: number, message: string) => {
    options.rejected(status);
    socket.on('error', () => {});
    socket.end(errorResponse(status, message));
    socket.destroySoon();
  };
  // child.send(..., socket) takes the socket's handle (socket._handle = null) but never emits 'close': without this,
  // every connection handed back held a place of the cap for good (60 of them left a 40-connection cap answering
  // even /health with 503). Not destroyed: while an earlier handle waits for its acknowledgement, child.send queues
  // the socket with its handle still in it, and destroying it would close the connection the worker is to get.
  const handedBack = (socket: net.Socket, head: Buffer): boolean => {
    if (!options.handBack(socket, head)) return false;
    sockets.delete(socket);
    return true;
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const tcp = req.socket.remoteAddress !== undefined;
    if (!tcp || route(req.method ?? 'GET', req.url ?? '/').kind === 'api') return app(req, res);
    // a stream request on a connection the supervisor holds: the worker it goes to answers it
    (req.socket as net.Socket & { _handle?: { readStop?(): number } })._handle?.readStop?.();
    if (handedBack(req.socket, headBytes(req))) return;
    res.shouldKeepAlive = false;
    res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'service_unavailable', message: 'no worker ready' }));
  };
  const server = createServer(
    {
      maxHeaderSize: 8192,
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: Math.max(options.headersTimeoutMs, 30_000),
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs / 2),
      keepAliveTimeout: options.idleTimeoutMs,
    },
    handler,
  );
  // a WebSocket upgrade (`/ws/:id`) on a connection the supervisor holds goes back to a worker the same way
  server.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => {});
    if (route(req.method ?? 'GET', req.url ?? '/').kind === 'api' || !handedBack(socket, Buffer.concat([headBytes(req), head]))) {
      refuse(socket, 400, 'an upgrade of an API path, or no worker ready');
    }
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    server,
    get connections() {
      return live();
    },
    cap,
    take(handle, bytes) {
      const limit = RESERVED_PATHS.test(bytes.toString('latin1', 0, 16)) ? cap : cap - API_RESERVE;
      if (live() >= limit) {
        server.closeIdleConnections();
        options.lean?.closeIdle();
      }
      if (live() >= limit) {
        const socket = handle instanceof net.Socket ? handle : new net.Socket({ handle: handle as never, readable: true, writable: true });
        return refuse(socket, 503, `the API holds ${live()} connections (cap ${cap}): try again later`);
      }
      // a raw handle (raw engine) starts on the lean path; a net.Socket (net engine) goes to node:http
      if (options.lean !== undefined && !(handle instanceof net.Socket)) return options.lean.take(handle as never, bytes);
      toHttp(handle, bytes);
    },
    /** A connection the lean path gives up, with the bytes it read. */
    fromLean(handle: unknown, bytes: Buffer) {
      toHttp(handle, bytes);
    },
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      restrictToOwner(options.socketPath);
    },
    async close() {
      options.lean?.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
