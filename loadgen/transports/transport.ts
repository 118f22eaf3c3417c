/**
 * A transport is how a comet stream is framed: HTTP chunks, SSE events, or long-poll answers. Each one turns the
 * de-framed response bytes into "units" (the seed's Chunks) for the connection pool, and says what request to send.
 * One file per transport; all share HttpResponseParser and TimestampReader.
 */
import type { Transport } from '../../shared/contracts.ts';
import type { EpochTable } from '../../shared/event-id.ts';
import type { BodySink, HttpResponseParser } from '../parsers/http-response-parser.ts';

/** What the pool hears from a transport. */
export interface UnitListener {
  /** Response head read. Return false to close the connection (e.g. a non-2xx status). */
  onHead(slot: number, status: number): boolean;
  /** A unit (chunk, SSE event, poll answer) arrived; `sentAtMs` is its send timestamp or NaN. */
  onUnit(slot: number, sentAtMs: number): void;
  /** A whole response was read: a stream that ended, or a poll answer after which the pool polls again. */
  onResponseEnd(slot: number, status: number): void;
  /** The server said the slot's position was from another server run (SSE `event: reset`, a poll's 205). */
  onReset?(slot: number): void;
}

export interface TransportSink extends BodySink {
  /** Set by the pool once the parser exists, so the sink can report malformed payload (SSE fields). */
  parser: HttpResponseParser | undefined;
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
   * answers only when a message comes) rather than once a 2xx head arrived (streams).
   */
  readonly activeOnConnect: boolean;
  /** The request bytes (latin1) for `path` on `host` (the Host header value), with `extra` header lines. */
  request(path: string, host: string, extra: string): string;
  /** A response header the sink reads through the parser (lower case), if any. */
  readonly captureHeader?: string;
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
