/**
 * Comet streams on node:http responses, shared by the `http` and `express` engines: the request handler and the
 * StreamIO the hub writes through. API requests are proxied to the supervisor's express app over its Unix socket
 * (these engines parse with llhttp, so the connection cannot be handed over mid-request as the lean engines do).
 * WebSocket streams (`/ws/:id`) are the `ws` library's WebSocket objects, after the same handshake checks as the
 * lean engines' (transports/ws-frame.ts), so every engine refuses a bad upgrade with the same status.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { lingerOnClose } from '../http/linger.ts';
import { errorCode, errorResponse, SERVER_NAME } from '../http/responses.ts';
import { eventCursor, route } from '../http/routes.ts';
import { eventId } from '../transports/event-position.ts';
import { TRANSPORTS, TRANSPORT_CODE, type TransportFraming } from '../transports/transport.ts';
import { CLOSE } from '../../shared/websocket.ts';
import { refuseHandshake, type HandshakeRefusal } from '../transports/ws-frame.ts';
import { Hub, type CometStream, type StreamIO } from '../worker/hub.ts';
import type { EngineOptions } from './engine.ts';
import { MAX_CLIENT_MESSAGE } from './lean-ws.ts';

type ResStream = ServerResponse & CometStream;
type WsStream = WebSocket & CometStream;
type HttpStream = ResStream | WsStream;

const WS = TRANSPORT_CODE.ws;
const isWs = (s: HttpStream): s is WsStream => s.tr === WS;

function sendError(res: ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify({ error: errorCode(status), message });
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Server: SERVER_NAME, ...headers });
  res.end(body);
}

/**
 * What the lean parser refuses in a head llhttp accepted: a version other than 1.0 and 1.1 (505; llhttp passes
 * 0.9 and 2.0) and more than one Host (400, RFC 9112 3.2; node keeps the first and drops the others).
 */
function requestProblem(req: IncomingMessage): { status: number; message: string } | undefined {
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') return { status: 505, message: 'only HTTP/1.0 and HTTP/1.1 are served' };
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.length === 4 && req.rawHeaders[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) return { status: 400, message: 'malformed request' };
  return undefined;
}

/** `Name: value\r\n` lines as an object for writeHead. */
function headerObject(lines: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const line of lines.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

const upgradeHeaders = (req: IncomingMessage) => ({
  upgrade: req.headers.upgrade,
  connection: req.headers.connection,
  key: req.headers['sec-websocket-key'],
  version: req.headers['sec-websocket-version'],
});

export class HttpStreams implements StreamIO<HttpStream> {
  readonly hub: Hub<HttpStream>;
  private readonly options: EngineOptions;
  // a bounded pool: the supervisor counts its Unix-socket connections against its API connection cap
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 8 });
  // no compression, no tracking set (the hub holds the streams), the lean engines' limit on client messages
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: MAX_CLIENT_MESSAGE });
  open = 0;

  constructor(options: EngineOptions) {
    this.options = options;
    this.hub = new Hub<HttpStream>(this, options.counters, options);
  }

  /** The server's `upgrade` handler: `/ws/:id` becomes a WebSocket stream; anything else is refused. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const r = route(req.method ?? 'GET', req.url ?? '/');
    let refusal: HandshakeRefusal | { status: number; message: string; headers: string } | undefined;
    if (r.kind === 'error') refusal = { ...r, headers: '' };
    else if (r.kind !== 'stream' || r.transport !== 'ws') refusal = { status: 400, message: 'only /ws/:id upgrades', headers: '' };
    else refusal = refuseHandshake(upgradeHeaders(req), req.httpVersion === '1.1');
    if (refusal !== undefined || r.kind !== 'stream') {
      const { status, message, headers } = refusal!;
      this.options.counters.reject(status);
      socket.end(errorResponse(status, message, headers));
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const s = ws as WsStream;
      s.sl = -1;
      this.open++;
      // the library answers pings, client closes and bad frames itself (1002, 1007, 1009); it reports a bad frame
      // as an 'error' before closing
      let reason = 'client';
      s.on('error', () => (reason = 'protocol'));
      s.on('close', () => {
        this.open--;
        this.hub.closed(s, reason);
      });
      this.hub.open(s, r.id, WS, eventCursor(r.lastEventId));
    });
  };

  /** The request handler for every request (express mounts it on the stream routes). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const bad = requestProblem(req);
    if (bad !== undefined) return this.reject(res, bad.status, bad.message);
    const lastEventId = req.headers['last-event-id'];
    const r = route(req.method ?? 'GET', req.url ?? '/', typeof lastEventId === 'string' ? lastEventId : undefined);
    if (r.kind === 'api') return this.proxy(req, res);
    if (r.kind === 'error') return this.reject(res, r.status, r.message);
    if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) {
      return this.reject(res, 400, 'a stream request has no body');
    }
    if (r.transport === 'ws') {
      // an upgrade request reaches `upgrade` instead: this one is not a valid one
      const refusal = refuseHandshake(upgradeHeaders(req), req.httpVersion === '1.1') ?? { status: 400, message: 'not an upgrade request', headers: '' };
      this.options.counters.reject(refusal.status);
      return sendError(res, refusal.status, refusal.message, headerObject(refusal.headers));
    }
    const framing = TRANSPORTS[TRANSPORT_CODE[r.transport]]!;
    if (r.head) {
      res.writeHead(200, this.headers(framing));
      res.end();
      return;
    }
    const s = res as ResStream;
    s.sl = -1;
    this.open++;
    res.on('close', () => {
      this.open--;
      this.hub.closed(s, res.writableFinished ? 'answered' : 'client');
    });
    this.hub.open(s, r.id, TRANSPORT_CODE[r.transport], eventCursor(r.lastEventId));
  };

  private reject(res: ServerResponse, status: number, message: string): void {
    this.options.counters.reject(status);
    sendError(res, status, message);
  }

  begin(s: HttpStream, framing: TransportFraming): boolean {
    if (isWs(s)) {
      s.send(framing.welcome(s.id)!);
      return s.readyState === 1;
    }
    s.writeHead(200, this.headers(framing));
    const welcome = framing.welcome(s.id);
    if (welcome !== undefined) s.write(welcome);
    else s.flushHeaders();
    return !s.destroyed;
  }

  event(s: HttpStream, payload: string): boolean {
    if (isWs(s)) {
      if (s.readyState !== 1) return false;
      if (s.bufferedAmount > this.options.maxQueuedBytes) {
        this.hub.closed(s, 'slow');
        s.terminate();
        return false;
      }
      s.send(payload);
      return true;
    }
    if (s.destroyed) return false;
    if (s.writableLength > this.options.maxQueuedBytes) {
      this.hub.closed(s, 'slow');
      s.destroy();
      return false;
    }
    s.write(payload);
    return true;
  }

  pollAnswer(s: HttpStream, body: string | undefined, lastSeq: number, reset = false): void {
    if (isWs(s) || s.destroyed) return;
    if (reset) {
      s.writeHead(205, { Server: SERVER_NAME, 'Cache-Control': 'no-cache', 'Comet-Event-Id': eventId(0), 'Comet-Reset': 'epoch', 'Content-Length': 0 });
      s.end();
      return;
    }
    if (body === undefined) {
      s.writeHead(204, { Server: SERVER_NAME, 'Cache-Control': 'no-cache' });
      s.end();
      return;
    }
    s.writeHead(200, { Server: SERVER_NAME, 'Content-Type': TRANSPORTS[2]!.contentType, 'Comet-Event-Id': eventId(lastSeq), 'Cache-Control': 'no-cache' });
    s.end(body);
  }

  end(s: HttpStream): void {
    if (isWs(s)) {
      s.close(CLOSE.goingAway);
      return;
    }
    s.shouldKeepAlive = false;
    s.end();
  }

  private headers(framing: TransportFraming): http.OutgoingHttpHeaders {
    return { Server: SERVER_NAME, 'Content-Type': framing.contentType, 'Cache-Control': 'no-cache' };
  }

  private proxy(req: IncomingMessage, res: ServerResponse): void {
    // hop-by-hop headers stay on their hop: a client's `Connection: close` must not close the pooled upstream
    const headers = { ...req.headers };
    delete headers.connection;
    delete headers['keep-alive'];
    const upstream = http.request(
      { socketPath: this.options.apiSocketPath, method: req.method, path: req.url, headers, agent: this.agent },
      (up) => {
        const back = { ...up.headers };
        delete back.connection;
        delete back['keep-alive'];
        // an error answered before the body was read (401, 413): this hop stops reading the client's body, closes
        // its connection after the answer, and drops the upstream connection, which still expects that body
        if (!req.complete && (up.statusCode ?? 0) >= 400) {
          req.unpipe(upstream);
          res.shouldKeepAlive = false;
          lingerOnClose(req.socket);
          up.once('end', () => upstream.destroy());
        }
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) sendError(res, 503, 'API unavailable');
      else res.destroy();
    });
    // the head goes now, not with the first body bytes: a request that declares a body and never sends it is still
    // answered by the supervisor (413 for a declared 10 GB) rather than waiting here for bytes that never come
    upstream.flushHeaders();
    req.pipe(upstream);
  }
}

export { closeServer, createLimitedServer, listenShared } from './http-listeners.ts';
