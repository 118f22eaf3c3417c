/**
 * Long-poll (`GET /poll/{i}`): the server holds the request and answers with the waiting message lines (200) or,
 * after its wait, 204; the client asks again on the same keep-alive connection, sending back the answer's
 * `Comet-Event-Id` as `Last-Event-ID` so nothing sent between two polls is lost. Each 200 answer is one unit; its
 * first line's timestamp gives the latency.
 */
import { EpochTable } from '../../shared/event-id.ts';
import { TimestampReader } from '../parsers/timestamp-reader.ts';
import type { HttpResponseParser } from '../parsers/http-response-parser.ts';
import { lastEventIdHeader, type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

class PollSink implements TransportSink {
  parser: HttpResponseParser | undefined;
  private readonly timestamps: TimestampReader;
  private readonly listener: UnitListener;
  /** Kept across reconnections: a new connection resumes where the last answer ended. */
  private readonly lastEventId: Float64Array;
  private readonly lastEpoch: Uint16Array;
  private readonly epochs = new EpochTable();

  constructor(capacity: number, listener: UnitListener) {
    this.timestamps = new TimestampReader(capacity);
    this.listener = listener;
    this.lastEventId = new Float64Array(capacity).fill(NaN);
    this.lastEpoch = new Uint16Array(capacity);
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
    const text = this.parser?.takeCaptured(slot);
    const id = text === undefined ? NaN : this.epochs.readText(text);
    if (!Number.isNaN(id)) {
      this.lastEventId[slot] = id;
      this.lastEpoch[slot] = this.epochs.readEpoch;
    }
    if (status === 200) this.listener.onUnit(slot, sentAt);
    else if (status === 205) this.listener.onReset?.(slot); // the position was of another server run
    this.listener.onResponseEnd(slot, status);
  }
  clear(slot: number): void {
    this.timestamps.clear(slot);
  }
  extraHeaders(slot: number): string {
    return lastEventIdHeader(this.lastEventId[slot]!, this.lastEpoch[slot]!, this.epochs);
  }
}

export const pollTransport: TransportCodec = {
  name: 'poll',
  defaultPath: '/poll/{i}',
  activeOnConnect: true,
  captureHeader: 'comet-event-id',
  request: (path, host, extra) =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: comet-lab-loadgen\r\nAccept: */*\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n${extra}\r\n`,
  createSink: (capacity, listener) => new PollSink(capacity, listener),
};
