/**
 * How the node:http engines (http, express) take connections, so that they answer bad requests as the lean engines
 * do. One net.Server per address (SO_REUSEPORT) accepts; the first request head of each connection is checked by
 * the lean engines' own parser (http/request-head.ts) before llhttp sees it, because llhttp is lenient where the
 * lean parser is strict (measured: it served `GET  /test/a` with two spaces, `HTTP/2.0` and `HTTP/0.9` with 200);
 * a head that passes goes back in front of the socket and the socket to the http.Server. Errors llhttp raises
 * itself are answered with the status the lean parser and router give the same bytes. Later requests on a
 * keep-alive connection (after a HEAD, a poll answer or an API call) are llhttp's alone, plus the checks of
 * http-streams.ts's handler.
 */
import http from 'node:http';
import net from 'node:net';
import { MAX_HEAD_BYTES, hasBareLf, headEnd, parseHead } from '../http/request-head.ts';
import { errorResponse } from '../http/responses.ts';
import { route } from '../http/routes.ts';
import type { EngineOptions } from './engine.ts';

const listenersOf = new WeakMap<http.Server, net.Server[]>();

/** The lean engines' answer to the head at the start of `bytes`: an error status and message, or undefined (valid). */
export function leanVerdict(bytes: Buffer): { status: number; message: string } | undefined {
  const end = headEnd(bytes);
  if (hasBareLf(bytes, end < 0 ? bytes.length : end)) return { status: 400, message: 'a line of the request head ends in LF without CR' };
  if (end < 0) return bytes.length > MAX_HEAD_BYTES ? { status: 431, message: 'request head over 8 KiB' } : undefined;
  if (end > MAX_HEAD_BYTES + 4) return { status: 431, message: 'request head over 8 KiB' };
  const head = parseHead(bytes, end);
  if (head === 505) return { status: 505, message: 'only HTTP/1.0 and HTTP/1.1 are served' };
  if (typeof head === 'number') return { status: head, message: 'malformed request' };
  const r = route(head.method, head.target, head.lastEventId);
  if (r.kind === 'error') return { status: r.status, message: r.message };
  if (r.kind === 'stream' && (head.contentLength > 0 || head.chunkedBody)) return { status: 400, message: 'a stream request has no body' };
  return undefined;
}

function refuse(socket: net.Socket, options: EngineOptions, status: number, message: string): void {
  options.counters.reject(status);
  if (socket.writable) socket.end(errorResponse(status, message));
  socket.destroySoon();
}

/** Reads the first request head of `socket`, checks it, and gives the socket (head unread) to `server`. */
function checkFirstHead(socket: net.Socket, server: http.Server, options: EngineOptions): void {
  let buf: Buffer | undefined;
  const timer = setTimeout(() => finish(408, 'request head not received in time'), options.headersTimeoutMs);
  const finish = (status: number, message: string) => {
    cleanup();
    refuse(socket, options, status, message);
  };
  const cleanup = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onGone);
    socket.off('end', onGone);
  };
  const onGone = () => {
    cleanup();
    socket.destroy();
  };
  const onData = (data: Buffer) => {
    buf = buf === undefined ? data : Buffer.concat([buf, data]);
    const bad = leanVerdict(buf);
    if (bad !== undefined) return finish(bad.status, bad.message);
    if (headEnd(buf) < 0) return;
    cleanup();
    socket.pause();
    socket.unshift(buf);
    server.emit('connection', socket);
    socket.resume();
  };
  socket.on('data', onData);
  socket.on('error', onGone);
  socket.on('end', onGone);
}

/** An http.Server with the limits the issue asks for (8 KiB heads -> 431, 10 s to send a head). */
export function createLimitedServer(options: EngineOptions, handler: http.RequestListener): http.Server {
  const server = http.createServer(
    {
      maxHeaderSize: 8192,
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: 0, // a stream's request is complete once its head is; the head timeout covers slowloris
      connectionsCheckingInterval: Math.max(50, Math.min(1000, options.headersTimeoutMs / 4)),
      keepAliveTimeout: 10_000,
    },
    handler,
  );
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    if (err.code === 'HPE_HEADER_OVERFLOW') return refuse(socket, options, 431, 'request head over 8 KiB');
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') return refuse(socket, options, 408, 'request head not received in time');
    const lean = err.rawPacket ? leanVerdict(err.rawPacket) : undefined;
    refuse(socket, options, lean?.status ?? 400, lean?.message ?? 'malformed request');
  });
  return server;
}

/** Listens with SO_REUSEPORT on the shared port, on every address of `options.hosts`. */
export async function listenShared(server: http.Server, options: EngineOptions): Promise<void> {
  const listeners: net.Server[] = [];
  listenersOf.set(server, listeners);
  for (const host of options.hosts) {
    const listener = net.createServer({ noDelay: true }, (socket) => checkFirstHead(socket, server, options));
    listeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host, port: options.port, backlog: options.backlog, reusePort: true }, () => {
        listener.off('error', reject);
        listener.on('error', () => options.counters.reject(500)); // accept errors (EMFILE): keep serving
        resolve();
      });
    });
  }
  // the http.Server itself never listens: 'listening' starts its header and keep-alive timeout checks
  server.emit('listening');
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const listener of listenersOf.get(server) ?? []) listener.close();
    server.close(() => resolve());
    setImmediate(resolve); // close waits for streams; the hub ends them right after
  });
}
