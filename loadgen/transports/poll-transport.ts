/**
 * Long-poll (`GET /poll/{i}`): the server holds the request and answers with the waiting message lines (200) or,
 * after its wait, 204; the client asks again on the same keep-alive connection, sending back the answer's
 * `Comet-Event-Id` as `Last-Event-ID` so nothing sent between two polls is lost. Each 200 answer is one unit; its
 * first line's timestamp gives the latency.
 */
import { EpochTable } from '../../shared/event-id.ts';
import { TimestampReader } from '../parsers/timestamp-reader.ts';
import { CONTINUE, type Verdict } from '../parsers/verdict.ts';
import { ignored, lastEventIdHeader, openOnSuccess, type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

class PollSink implements TransportSink {
  private readonly timestamps: TimestampReader;
  private readonly listener: UnitListener;
  /** Kept across reconnections: a new connection resumes where the last answer ended. */
  private readonly lastEventId: Float64Array;
  private readonly lastEpoch: Uint16Array;
  private readonly epochs = new EpochTable();
  /** The `Comet-Event-Id` of the answer being read (NaN when it has none), and its epoch's number. */
  private readonly answerId: Float64Array;
  private readonly answerEpoch: Uint16Array;

  constructor(capacity: number, listener: UnitListener) {
    this.timestamps = new TimestampReader(capacity);
    this.listener = listener;
    this.lastEventId = new Float64Array(capacity).fill(NaN);
    this.lastEpoch = new Uint16Array(capacity);
    this.answerId = new Float64Array(capacity).fill(NaN);
    this.answerEpoch = new Uint16Array(capacity);
  }

  onHeader(slot: number, name: string, value: string): Verdict {
    if (name === 'comet-event-id') {
      // `<epoch>-<seq>` from comet-lab's server (shared/event-id.ts), a bare number from others
      this.answerId[slot] = this.epochs.readText(value);
      this.answerEpoch[slot] = this.epochs.readEpoch;
    }
    return CONTINUE;
  }
  onHead(slot: number, status: number): Verdict {
    const v = openOnSuccess(this.listener, slot, status);
    if (v === CONTINUE) this.timestamps.begin(slot);
    return v;
  }
  onChunkStart = ignored;
  onData(slot: number, buf: Uint8Array, start: number, end: number): Verdict {
    this.timestamps.data(slot, buf, start, end);
    return CONTINUE;
  }
  onChunkEnd = ignored;
  onResponseEnd(slot: number, status: number): Verdict {
    const sentAt = this.timestamps.finish(slot);
    const id = this.answerId[slot]!;
    this.answerId[slot] = NaN;
    if (!Number.isNaN(id)) {
      this.lastEventId[slot] = id;
      this.lastEpoch[slot] = this.answerEpoch[slot]!;
    }
    if (status === 200) this.listener.onUnit(slot, sentAt);
    else if (status === 205) this.listener.onReset?.(slot); // the position was of another server run
    this.listener.onResponseEnd(slot, status);
    return CONTINUE;
  }
  clear(slot: number): void {
    this.timestamps.clear(slot);
    this.answerId[slot] = NaN;
  }
  extraHeaders(slot: number): string {
    return lastEventIdHeader(this.lastEventId[slot]!, this.lastEpoch[slot]!, this.epochs);
  }
}

export const pollTransport: TransportCodec = {
  name: 'poll',
  defaultPath: '/poll/{i}',
  activeOnConnect: true,
  request: (path, host, extra) =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: comet-lab-loadgen\r\nAccept: */*\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n${extra}\r\n`,
  createSink: (capacity, listener) => new PollSink(capacity, listener),
};
