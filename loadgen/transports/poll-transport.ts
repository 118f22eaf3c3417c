/**
 * Long-poll (`GET /poll/{i}`): the server holds the request and answers one message (200) or, after its wait,
 * 204; the client asks again on the same keep-alive connection. Each 200 answer with a body is a unit.
 */
import { TimestampReader } from '../parsers/timestamp-reader.ts';
import type { HttpResponseParser } from '../parsers/http-response-parser.ts';
import { type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

class PollSink implements TransportSink {
  parser: HttpResponseParser | undefined;
  private readonly timestamps: TimestampReader;
  private readonly listener: UnitListener;

  constructor(capacity: number, listener: UnitListener) {
    this.timestamps = new TimestampReader(capacity);
    this.listener = listener;
  }

  onHead(slot: number, status: number): void {
    if (!this.listener.onHead(slot, status)) this.parser?.stop(slot);
    else this.timestamps.begin(slot);
  }
  onChunkStart(): void {}
  onData(slot: number, buf: Uint8Array, start: number, end: number): void {
    this.timestamps.data(slot, buf, start, end);
  }
  onChunkEnd(): void {}
  onResponseEnd(slot: number, status: number): void {
    const sentAt = this.timestamps.finish(slot);
    if (status === 200) this.listener.onUnit(slot, sentAt);
    this.listener.onResponseEnd(slot, status);
  }
  clear(slot: number): void {
    this.timestamps.clear(slot);
  }
}

export const pollTransport: TransportCodec = {
  name: 'poll',
  defaultPath: '/poll/{i}',
  activeOnConnect: true,
  request: (path, host) =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: comet-lab-loadgen\r\nAccept: */*\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n`,
  createSink: (capacity, listener) => new PollSink(capacity, listener),
};
