/**
 * Comet streams on node:http responses, shared by the `http` and `express` engines: the request handler and the
 * StreamIO the hub writes through. API requests are proxied to the supervisor's express app over its Unix socket
 * (these engines parse with llhttp, so the connection cannot be handed over mid-request as the lean engines do).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { errorCode, SERVER_NAME } from '../http/responses.ts';
import { eventCursor, route } from '../http/routes.ts';
import { TRANSPORTS, TRANSPORT_CODE, type TransportFraming } from '../transports/transport.ts';
import { Hub, type CometStream, type StreamIO } from '../worker/hub.ts';
import type { EngineOptions } from './engine.ts';

type ResStream = ServerResponse & CometStream;

function sendError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: errorCode(status), message });
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Server: SERVER_NAME });
  res.end(body);
}

export class HttpStreams implements StreamIO<ResStream> {
  readonly hub: Hub<ResStream>;
  private readonly options: EngineOptions;
  private readonly agent = new http.Agent({ keepAlive: true });
  open = 0;

  constructor(options: EngineOptions) {
    this.options = options;
    this.hub = new Hub<ResStream>(this, options.counters, options);
  }

  /** The request handler for every request (express mounts it on the stream routes). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const lastEventId = req.headers['last-event-id'];
    const r = route(req.method ?? 'GET', req.url ?? '/', typeof lastEventId === 'string' ? lastEventId : undefined);
    if (r.kind === 'api') return this.proxy(req, res);
    if (r.kind === 'error') {
      this.options.counters.reject(r.status);
      return sendError(res, r.status, r.message);
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

  begin(s: ResStream, framing: TransportFraming): boolean {
    s.writeHead(200, this.headers(framing));
    const welcome = framing.welcome(s.id);
    if (welcome !== undefined) s.write(welcome);
    else s.flushHeaders();
    return !s.destroyed;
  }

  event(s: ResStream, payload: string): boolean {
    if (s.destroyed) return false;
    if (s.writableLength > this.options.maxQueuedBytes) {
      this.hub.closed(s, 'slow');
      s.destroy();
      return false;
    }
    s.write(payload);
    return true;
  }

  pollAnswer(s: ResStream, body: string | undefined, lastSeq: number): void {
    if (s.destroyed) return;
    if (body === undefined) {
      s.writeHead(204, { Server: SERVER_NAME, 'Cache-Control': 'no-cache' });
      s.end();
      return;
    }
    s.writeHead(200, { Server: SERVER_NAME, 'Content-Type': TRANSPORTS[2]!.contentType, 'Comet-Event-Id': String(lastSeq), 'Cache-Control': 'no-cache' });
    s.end(body);
  }

  end(s: ResStream): void {
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
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) sendError(res, 503, 'API unavailable');
      else res.destroy();
    });
    req.pipe(upstream);
  }
}

/** An http.Server with the limits the issue asks for (8 KiB heads -> 431, 10 s to send a head). */
export function createLimitedServer(options: EngineOptions, handler: http.RequestListener): http.Server {
  return http.createServer(
    {
      maxHeaderSize: 8192,
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: 0, // a stream's request is complete once its head is; the head timeout covers slowloris
      connectionsCheckingInterval: Math.max(50, Math.min(1000, options.headersTimeoutMs / 4)),
      keepAliveTimeout: 10_000,
    },
    handler,
  );
}

/** Listens with SO_REUSEPORT on the shared port. */
export function listenShared(server: http.Server, options: EngineOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, backlog: options.backlog, reusePort: true }, () => {
      server.off('error', reject);
      server.on('error', () => options.counters.reject(500));
      resolve();
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    setImmediate(resolve); // close waits for streams; the hub ends them right after
  });
}
