/**
 * A transport is how a comet stream is framed: HTTP chunks, SSE events, long-poll answers, or WebSocket frames.
 * Each one turns the response bytes into "units" (the seed's Chunks) for the connection pool, and says what request
 * to send. One file per transport; all share HttpResponseParser (the WebSocket one takes over after the 101).
 * Sinks answer the parser with verdicts (parsers/verdict.ts) and tell the pool what happened through UnitListener;
 * they hold no reference to either.
 */
import type { ErrorCause, Transport } from '../../shared/contracts.ts';
import type { EpochTable } from '../../shared/event-id.ts';
import type { BodySink } from '../parsers/http-response-parser.ts';
import { CONTINUE, PAUSE, type Verdict } from '../parsers/verdict.ts';

/** What the pool hears from a transport. */
export interface UnitListener {
  /** The stream is open (a 2xx head; a valid 101 for WebSocket): the connection counts as active. */
  onOpen(slot: number): void;
  /** A unit (chunk, SSE event, poll answer, WebSocket message) arrived; `sentAtMs` is its send timestamp or NaN. */
  onUnit(slot: number, sentAtMs: number): void;
  /** A whole response was read: a stream that ended, or a poll answer after which the pool polls again. */
  onResponseEnd(slot: number, status: number): void;
  /** The server said the slot's position was from another server run (SSE `event: reset`, a poll's 205). */
  onReset?(slot: number): void;
  /** The sink ends the connection: `http_status` (a non-2xx `status`, counted by code) or `handshake`. */
  onRefused(slot: number, cause: Extract<ErrorCause, 'http_status' | 'handshake'>, status: number): void;
  /** The server closed a WebSocket with `code` (counted by code; 1000/1001 end it cleanly, others as `ws_close`). */
  onWsClose(slot: number, code: number): void;
  /** Writes bytes on the slot's connection (a WebSocket pong or close); false when the write failed. */
  write(slot: number, bytes: Uint8Array): boolean;
}

export interface TransportSink extends BodySink {
  /** Forget the slot's partial state (its connection closed). */
  clear(slot: number): void;
  /** Extra request header lines for the slot's next request (`Last-Event-ID: n\r\n` to resume), or ''. */
  extraHeaders(slot: number): string;
}

export interface TransportCodec {
  readonly name: Transport;
  /** Path the server serves this transport on, `{i}` replaced by the connection's index. */
  readonly defaultPath: string;
  /**
   * Whether a connection counts as active once connected and asked (long-poll: the server holds the request and
   * answers only when a message comes) rather than once its head (2xx, or 101 for WebSocket) arrived.
   */
  readonly activeOnConnect: boolean;
  /** The request bytes (latin1) for `path` on `host` (the Host header value), with `extra` header lines. */
  request(path: string, host: string, extra: string): string;
  createSink(capacity: number, listener: UnitListener): TransportSink;
}

/** Headers a real streaming client sends; nchan answers 403 to an http-chunked subscriber without `TE: chunked`. */
export function streamingRequest(path: string, host: string, accept: string, extra: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: comet-lab-loadgen\r\nAccept: ${accept}\r\n` +
    `TE: chunked\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n${extra}\r\n`
  );
}

/**
 * The `Last-Event-ID` line for a resumable transport, or '' when nothing was received yet: `seq` in epoch number
 * `epoch` of `epochs` (comet-lab's positions are `<epoch>-<seq>`, shared/event-id.ts; 0 is a bare number).
 */
export function lastEventIdHeader(seq: number, epoch = 0, epochs?: EpochTable): string {
  if (Number.isNaN(seq)) return '';
  return `Last-Event-ID: ${epochs === undefined ? seq : epochs.position(epoch, seq)}\r\n`;
}

/** An HTTP stream's answer to its head: a 2xx opens it, anything else ends it as `http_status`. */
export function openOnSuccess(listener: UnitListener, slot: number, status: number): Verdict {
  if (status >= 200 && status < 300) {
    listener.onOpen(slot);
    return CONTINUE;
  }
  listener.onRefused(slot, 'http_status', status);
  return PAUSE;
}

/** The BodySink callbacks a transport does not use. */
export const ignored = (): Verdict => CONTINUE;
