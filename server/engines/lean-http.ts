/**
 * The HTTP/1.1 connection state machine shared by the lean engines (raw handles, net.Socket): read a request head,
 * route it, then become a comet stream, answer an error and close, or hand the connection to the supervisor's
 * express API. Per connection it keeps only a few fields on the engine's own connection object; the functions here
 * are shared by all connections.
 */
import { MAX_HEAD_BYTES, hasBareLf, headEnd, parseHead, type RequestHead } from '../http/request-head.ts';
import { LAST_CHUNK, chunk, errorResponse, fullResponse, noContent, resetContent, streamHead } from '../http/responses.ts';
import { eventCursor, route } from '../http/routes.ts';
import { eventId } from '../transports/event-position.ts';
import { TRANSPORTS, TRANSPORT_CODE, type TransportFraming } from '../transports/transport.ts';
import { CLOSE, OP_PONG, OP_TEXT } from '../../shared/websocket.ts';
import { closeFrame, refuseHandshake, serverFrame, switchingProtocols } from '../transports/ws-frame.ts';
import type { EngineOptions } from './engine.ts';
import { ClientFrames } from './lean-ws.ts';
import { Hub, type CometStream, type StreamIO } from '../worker/hub.ts';

/** Connection phases. */
const READING = 0;
const STREAMING = 1;
const CLOSED = 3;
const HANDED_OFF = 4;

/** Per-connection fields the lean engines keep on their connection objects (a raw handle or a net.Socket). */
export interface LeanConn extends CometStream {
  cs: number; // phase
  hb: Buffer | undefined; // bytes of an unfinished request head (or pipelined bytes after a poll)
  fm: number; // 1: chunked framing (HTTP/1.1), 2: keep-alive; WebSocket: lean-ws.ts's FM_FRAGMENTED
}

/** The primitives an engine gives the state machine. */
export interface ConnOps<C extends LeanConn> {
  /** Writes a string (UTF-8) or bytes; false when the connection failed (the state machine then drops it). */
  write(c: C, data: string | Uint8Array): boolean;
  /** Bytes waiting in user space to be written. */
  queued(c: C): number;
  /** Closes: after queued writes (graceful) or at once. */
  close(c: C, graceful: boolean): void;
  /** Stops reading and hands the connection and the bytes read so far to the supervisor. */
  handOff(c: C, bytes: Buffer): void;
}

const CHUNKED = 1;
const KEEP_ALIVE = 2;
const WS = TRANSPORT_CODE.ws;
const GOING_AWAY = closeFrame(CLOSE.goingAway);

/** Fresh per-connection fields, always set in this order so every connection object shares one hidden class. */
export function initConn(c: LeanConn): void {
  c.id = '';
  c.tr = 0;
  c.n = 0;
  c.ls = 0;
  c.rb = undefined;
  c.sl = -1;
  c.cs = READING;
  c.hb = undefined;
  c.fm = 0;
}

export class LeanHttp<C extends LeanConn> implements StreamIO<C> {
  readonly hub: Hub<C>;
  /** Connections still reading a request head, with when they started: swept for slowloris. */
  private readonly reading = new Map<C, number>();
  private readonly sweep: NodeJS.Timeout;
  private lastPayload = '';
  private lastChunk = '';
  private lastWsPayload = '';
  private lastWsFrame: Buffer = serverFrame(OP_TEXT, '');
  /** The 101 answer of the upgrade being opened (set just before hub.open calls begin). */
  private upgradeHead = '';
  private readonly frames: ClientFrames<C>;
  open = 0;
  private readonly ops: ConnOps<C>;
  private readonly options: EngineOptions;

  constructor(ops: ConnOps<C>, options: EngineOptions) {
    this.ops = ops;
    this.options = options;
    this.hub = new Hub<C>(this, options.counters, options);
    this.sweep = setInterval(() => this.sweepSlow(), Math.max(50, Math.min(1000, options.headersTimeoutMs / 4)));
    this.sweep.unref();
    this.frames = new ClientFrames<C>(
      {
        pong: (c, payload) => void this.writeOrDrop(c, serverFrame(OP_PONG, payload)),
        clientClosed: (c, code) => this.wsClose(c, code, 'client'),
        fail: (c, code) => this.wsClose(c, code, 'protocol'),
      },
      (c) => c.cs === STREAMING,
    );
  }

  /** A new connection; false when this worker is full (the engine closes it at once). */
  accepted(c: C): boolean {
    if (this.open >= this.options.maxConnections) {
      this.options.counters.reject(503);
      return false;
    }
    this.open++;
    initConn(c);
    this.reading.set(c, Date.now());
    return true;
  }

  data(c: C, data: Buffer): void {
    if (c.cs === STREAMING && c.tr === WS) {
      this.frames.data(c, data);
    } else if (c.cs === READING) {
      c.hb = c.hb === undefined ? data : Buffer.concat([c.hb, data]);
      this.readHead(c);
    } else if (c.cs === STREAMING && c.tr === TRANSPORT_CODE.poll) {
      // a pipelined next poll: keep it (bounded) until this one is answered
      c.hb = c.hb === undefined ? data : Buffer.concat([c.hb, data]);
      if (c.hb.length > MAX_HEAD_BYTES) this.drop(c, 'protocol');
    }
    // bytes sent on a chunked or SSE stream are ignored: nothing more is expected from that client
  }

  /** A connection the supervisor handed back, with the request bytes it read; false when this worker is full. */
  adopt(c: C, bytes: Buffer): boolean {
    if (!this.accepted(c)) return false;
    if (bytes.length > 0) this.data(c, bytes);
    return true;
  }

  /** The peer ended or the connection failed (err < 0). */
  ended(c: C, err: number): void {
    this.drop(c, err === 0 ? 'client' : 'error');
  }

  stop(): void {
    clearInterval(this.sweep);
  }

  /** Closes the connection at once and logs its stream out; safe to call twice. */
  drop(c: C, reason: string): void {
    if (c.cs === CLOSED || c.cs === HANDED_OFF) return;
    c.cs = CLOSED;
    if (c.tr === WS) this.frames.forget(c);
    c.hb = undefined;
    this.reading.delete(c);
    this.hub.closed(c, reason);
    this.open--;
    this.ops.close(c, false);
  }

  // StreamIO: how the hub writes to a lean connection

  begin(c: C, framing: TransportFraming): boolean {
    if (c.tr === WS) {
      // the 101 and the welcome frame in one write
      const head = this.upgradeHead;
      this.upgradeHead = '';
      const welcome = serverFrame(OP_TEXT, framing.welcome(c.id)!);
      const bytes = Buffer.allocUnsafe(head.length + welcome.length);
      bytes.write(head, 0, 'latin1');
      welcome.copy(bytes, head.length);
      return this.writeOrDrop(c, bytes);
    }
    const welcome = framing.welcome(c.id);
    const head = streamHead(framing.contentType, (c.fm & CHUNKED) !== 0);
    return this.writeOrDrop(c, welcome === undefined ? head : head + this.httpFrame(c, welcome));
  }

  event(c: C, payload: string): boolean {
    if (this.ops.queued(c) > this.options.maxQueuedBytes) {
      this.drop(c, 'slow');
      return false;
    }
    return this.writeOrDrop(c, this.frame(c, payload));
  }

  heartbeat(c: C, payload: string): boolean {
    if (c.tr === WS) return this.event(c, payload);
    if (this.ops.queued(c) > this.options.maxQueuedBytes) {
      this.drop(c, 'slow');
      return false;
    }
    // ASCII: the chunk size is the length. Counting bytes and comparing with the last broadcast payload, as frame()
    // does, cost 0.4 µs of the 0.5 µs spent framing a heartbeat (node, 2,000,000 heartbeats).
    return this.writeOrDrop(c, (c.fm & CHUNKED) === 0 ? payload : `${payload.length.toString(16)}\r\n${payload}\r\n`);
  }

  pollAnswer(c: C, body: string | undefined, lastSeq: number, reset = false): void {
    const keepAlive = (c.fm & KEEP_ALIVE) !== 0;
    const response = reset
      ? resetContent(keepAlive, eventId(0))
      : body === undefined
        ? noContent(keepAlive)
        : fullResponse(200, 'text/plain; charset=utf-8', body, keepAlive, `Comet-Event-Id: ${eventId(lastSeq)}\r\n`);
    if (!this.writeOrDrop(c, response)) return;
    if (!keepAlive) return this.finish(c);
    c.cs = READING;
    this.reading.set(c, Date.now());
    if (c.hb !== undefined) this.readHead(c);
  }

  end(c: C): void {
    if (c.tr === WS) this.ops.write(c, GOING_AWAY);
    else if ((c.fm & CHUNKED) !== 0) this.ops.write(c, LAST_CHUNK);
    this.finish(c);
  }

  /** Answers a client's close (or closes for a violation) with `code`, logs the stream out, closes after the frame. */
  private wsClose(c: C, code: number, reason: string): void {
    this.hub.closed(c, reason);
    this.ops.write(c, closeFrame(code));
    this.finish(c);
  }

  private readHead(c: C): void {
    const buf = c.hb!;
    const end = headEnd(buf);
    if (hasBareLf(buf, end < 0 ? buf.length : end)) return this.reject(c, 400, 'a line of the request head ends in LF without CR');
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) this.reject(c, 431, 'request head over 8 KiB');
      return;
    }
    if (end > MAX_HEAD_BYTES + 4) return this.reject(c, 431, 'request head over 8 KiB');
    const head = parseHead(buf, end);
    if (typeof head === 'number') return this.reject(c, head, head === 505 ? 'only HTTP/1.0 and HTTP/1.1 are served' : 'malformed request');
    const r = route(head.method, head.target, head.lastEventId);
    if (r.kind === 'api') {
      c.cs = HANDED_OFF;
      c.hb = undefined;
      this.reading.delete(c);
      this.open--;
      this.ops.handOff(c, buf);
      return;
    }
    if (r.kind === 'error') return this.reject(c, r.status, r.message);
    if (head.contentLength > 0 || head.chunkedBody) return this.reject(c, 400, 'a stream request has no body');
    const code = TRANSPORT_CODE[r.transport];
    if (code === WS) return this.upgrade(c, head, r.id, r.lastEventId, buf.subarray(end));
    this.reading.delete(c);
    c.hb = end < buf.length ? buf.subarray(end) : undefined;
    c.fm = (head.minor === 1 ? CHUNKED : 0) | (head.keepAlive ? KEEP_ALIVE : 0);
    if (r.head) {
      // HEAD: the stream's head, no body (as the seed answered it)
      const framing = TRANSPORTS[code]!;
      if (!this.writeOrDrop(c, streamHead(framing.contentType, (c.fm & CHUNKED) !== 0))) return;
      if ((c.fm & KEEP_ALIVE) === 0) return this.finish(c);
      this.reading.set(c, Date.now());
      if (c.hb !== undefined) this.readHead(c);
      return;
    }
    c.cs = STREAMING;
    this.hub.open(c, r.id, code, eventCursor(r.lastEventId));
  }

  /** `GET /ws/:id`: checks the handshake, then the stream opens with the 101 and its welcome frame. */
  private upgrade(c: C, head: RequestHead, id: string, lastEventId: string | undefined, rest: Buffer): void {
    const refusal = refuseHandshake({ upgrade: head.upgrade, connection: head.connection, key: head.wsKey, version: head.wsVersion }, head.minor === 1);
    if (refusal !== undefined) return this.reject(c, refusal.status, refusal.message, refusal.headers);
    this.reading.delete(c);
    c.hb = undefined;
    c.fm = 0;
    c.cs = STREAMING;
    this.upgradeHead = switchingProtocols(head.wsKey!);
    this.hub.open(c, id, WS, eventCursor(lastEventId));
    // frames the client sent right behind its handshake (a copy: `rest` may be a view of a larger read)
    if (rest.length > 0 && c.cs === STREAMING) this.frames.data(c, Buffer.from(rest));
  }

  private reject(c: C, status: number, message: string, headers = ''): void {
    this.options.counters.reject(status);
    this.ops.write(c, errorResponse(status, message, headers));
    this.finish(c);
  }

  /** Graceful close: queued bytes go out, then FIN. */
  private finish(c: C): void {
    if (c.cs === CLOSED || c.cs === HANDED_OFF) return;
    c.cs = CLOSED;
    if (c.tr === WS) this.frames.forget(c);
    c.hb = undefined;
    this.reading.delete(c);
    this.open--;
    this.ops.close(c, true);
  }

  private writeOrDrop(c: C, data: string | Uint8Array): boolean {
    if (this.ops.write(c, data)) return true;
    this.drop(c, 'error');
    return false;
  }

  private frame(c: C, payload: string): string | Buffer {
    if (c.tr === WS) {
      // one frame per payload: a broadcast or a heartbeat tick writes the same bytes to many streams in a row
      if (payload !== this.lastWsPayload) {
        this.lastWsPayload = payload;
        this.lastWsFrame = serverFrame(OP_TEXT, payload);
      }
      return this.lastWsFrame;
    }
    return this.httpFrame(c, payload);
  }

  private httpFrame(c: C, payload: string): string {
    if ((c.fm & CHUNKED) === 0) return payload;
    // a broadcast frames the same payload for every stream: reuse the last framing
    if (payload !== this.lastPayload) {
      this.lastPayload = payload;
      this.lastChunk = chunk(payload);
    }
    return this.lastChunk;
  }

  private sweepSlow(): void {
    const deadline = Date.now() - this.options.headersTimeoutMs;
    for (const [c, since] of this.reading) {
      if (since > deadline) continue;
      this.options.counters.reject(408);
      this.ops.write(c, errorResponse(408, 'request head not received in time'));
      this.drop(c, 'timeout');
    }
  }
}
