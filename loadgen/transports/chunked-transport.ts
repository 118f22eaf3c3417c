/** Chunked streaming (`GET /test/{i}`, the seed's transport): every HTTP chunk is a unit, counted from the framing. */
import { TimestampReader } from '../parsers/timestamp-reader.ts';
import { CONTINUE, type Verdict } from '../parsers/verdict.ts';
import { ignored, openOnSuccess, streamingRequest, type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

class ChunkedSink implements TransportSink {
  private readonly timestamps: TimestampReader;
  private readonly listener: UnitListener;

  constructor(capacity: number, listener: UnitListener) {
    this.timestamps = new TimestampReader(capacity);
    this.listener = listener;
  }

  onHeader = ignored;
  onHead(slot: number, status: number): Verdict {
    return openOnSuccess(this.listener, slot, status);
  }
  onChunkStart(slot: number): Verdict {
    this.timestamps.begin(slot);
    return CONTINUE;
  }
  onData(slot: number, buf: Uint8Array, start: number, end: number): Verdict {
    this.timestamps.data(slot, buf, start, end);
    return CONTINUE;
  }
  onChunkEnd(slot: number): Verdict {
    this.listener.onUnit(slot, this.timestamps.finish(slot));
    return CONTINUE;
  }
  onResponseEnd(slot: number, status: number): Verdict {
    this.listener.onResponseEnd(slot, status);
    return CONTINUE;
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
