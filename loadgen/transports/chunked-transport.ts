/** Chunked streaming (`GET /test/{i}`, the seed's transport): every HTTP chunk is a unit, counted from the framing. */
import { TimestampReader } from '../parsers/timestamp-reader.ts';
import type { HttpResponseParser } from '../parsers/http-response-parser.ts';
import { streamingRequest, type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

class ChunkedSink implements TransportSink {
  parser: HttpResponseParser | undefined;
  private readonly timestamps: TimestampReader;
  private readonly listener: UnitListener;

  constructor(capacity: number, listener: UnitListener) {
    this.timestamps = new TimestampReader(capacity);
    this.listener = listener;
  }

  onHead(slot: number, status: number): void {
    if (!this.listener.onHead(slot, status)) this.parser?.stop(slot);
  }
  onChunkStart(slot: number): void {
    this.timestamps.begin(slot);
  }
  onData(slot: number, buf: Uint8Array, start: number, end: number): void {
    this.timestamps.data(slot, buf, start, end);
  }
  onChunkEnd(slot: number): void {
    this.listener.onUnit(slot, this.timestamps.finish(slot));
  }
  onResponseEnd(slot: number, status: number): void {
    this.listener.onResponseEnd(slot, status);
  }
  clear(slot: number): void {
    this.timestamps.clear(slot);
  }
  extraHeaders(): string {
    return '';
  }
}

export const chunkedTransport: TransportCodec = {
  name: 'chunked',
  defaultPath: '/test/{i}',
  activeOnConnect: false,
  request: (path, host, extra) => streamingRequest(path, host, '*/*', extra),
  createSink: (capacity, listener) => new ChunkedSink(capacity, listener),
};
