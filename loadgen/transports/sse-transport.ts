/**
 * Server-Sent Events (`GET /sse/{i}`): the de-framed body is parsed into lines; a blank line ends an event, and every
 * event with at least one field is a unit. The first `data:` line's value carries the send timestamp (`@<ts> body`).
 * Comments (`:` lines) are ignored; an unknown field name counts as a protocol error (`bad-sse-field`). An
 * `event: reset` (the slot resumed with a position of another server run) is counted as a reset, not a unit.
 */
import { EpochTable } from '../../shared/event-id.ts';
import { parseSentAtMs } from '../../shared/message-format.ts';
import { CONTINUE, failWith, type Verdict } from '../parsers/verdict.ts';
import { ignored, lastEventIdHeader, openOnSuccess, streamingRequest, type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

const LINE_START = 0;
const CARRYING = 1; // a partial line is in the carry map
const SKIPPING = 2; // the line's head was handled; skip to its end

const MAX_CARRY = 96; // field name + timestamp fit; longer lines are handled on their first bytes

const FIELDS = ['data', 'id', 'event', 'retry'].map((f) => Buffer.from(f, 'latin1'));

const BAD_FIELD = failWith('bad-sse-field');

class SseSink implements TransportSink {
  private readonly lineState: Uint8Array;
  private readonly hasFields: Uint8Array;
  private readonly sentAt: Float64Array;
  private readonly carry = new Map<number, Buffer>();
  private readonly listener: UnitListener;
  /** The last `id:` seen, kept across reconnections (sent back as Last-Event-ID, as EventSource does). */
  private readonly lastEventId: Float64Array;
  private readonly lastEpoch: Uint16Array;
  private readonly epochs = new EpochTable();
  /** 1 while the event being read is `event: reset`. */
  private readonly resetEvent: Uint8Array;

  constructor(capacity: number, listener: UnitListener) {
    this.lastEventId = new Float64Array(capacity).fill(NaN);
    this.lastEpoch = new Uint16Array(capacity);
    this.resetEvent = new Uint8Array(capacity);
    this.lineState = new Uint8Array(capacity);
    this.hasFields = new Uint8Array(capacity);
    this.sentAt = new Float64Array(capacity).fill(NaN);
    this.listener = listener;
  }

  onHeader = ignored;
  onHead(slot: number, status: number): Verdict {
    return openOnSuccess(this.listener, slot, status);
  }
  onChunkStart = ignored;
  onChunkEnd = ignored;
  onResponseEnd(slot: number, status: number): Verdict {
    this.listener.onResponseEnd(slot, status);
    return CONTINUE;
  }
  clear(slot: number): void {
    this.lineState[slot] = LINE_START;
    this.hasFields[slot] = 0;
    this.sentAt[slot] = NaN;
    this.resetEvent[slot] = 0;
    this.carry.delete(slot);
  }
  extraHeaders(slot: number): string {
    return lastEventIdHeader(this.lastEventId[slot]!, this.lastEpoch[slot]!, this.epochs);
  }

  onData(slot: number, buf: Uint8Array, start: number, end: number): Verdict {
    let i = start;
    while (i < end) {
      const lf = buf.indexOf(0x0a, i);
      const lineEnd = lf < 0 || lf >= end ? end : lf;
      const complete = lineEnd < end;
      const state = this.lineState[slot];
      if (state === SKIPPING) {
        if (complete) this.lineState[slot] = LINE_START;
      } else if (state === CARRYING) {
        const joined = Buffer.concat([this.carry.get(slot)!, buf.subarray(i, lineEnd)]);
        if (complete || joined.length >= MAX_CARRY) {
          this.carry.delete(slot);
          if (!this.line(slot, joined, 0, joined.length)) return BAD_FIELD;
          this.lineState[slot] = complete ? LINE_START : SKIPPING;
        } else {
          this.carry.set(slot, joined);
        }
      } else if (complete || lineEnd - i >= MAX_CARRY) {
        if (!this.line(slot, buf, i, lineEnd)) return BAD_FIELD;
        if (!complete) this.lineState[slot] = SKIPPING;
      } else {
        this.carry.set(slot, Buffer.from(buf.subarray(i, lineEnd)));
        this.lineState[slot] = CARRYING;
      }
      i = complete ? lineEnd + 1 : end;
    }
    return CONTINUE;
  }

  private readId(slot: number, buf: Uint8Array, start: number, end: number): void {
    const id = this.epochs.read(buf, start, end);
    if (Number.isNaN(id)) return;
    this.lastEventId[slot] = id;
    this.lastEpoch[slot] = this.epochs.readEpoch;
  }

  /** One line (without its LF; a trailing CR is dropped). Returns false for a malformed field (bad-sse-field). */
  private line(slot: number, buf: Uint8Array, start: number, end: number): boolean {
    if (end > start && buf[end - 1] === 0x0d) end--;
    if (end === start) {
      if (this.resetEvent[slot] !== 0) this.listener.onReset?.(slot);
      else if (this.hasFields[slot] !== 0) this.listener.onUnit(slot, this.sentAt[slot]!);
      this.resetEvent[slot] = 0;
      this.hasFields[slot] = 0;
      this.sentAt[slot] = NaN;
      return true;
    }
    if (buf[start] === 0x3a) return true; // comment (a keep-alive ping)
    let colon = buf.indexOf(0x3a, start);
    if (colon < 0 || colon > end) colon = end;
    const field = fieldIndex(buf, start, colon);
    if (field < 0) {
      this.clear(slot);
      return false;
    }
    if (field === 0 && this.hasFields[slot] !== 2) {
      let v = colon + 1;
      if (v < end && buf[v] === 0x20) v++;
      this.sentAt[slot] = v < end ? parseSentAtMs(buf, v, end) : NaN;
      this.hasFields[slot] = 2; // the first data line carries the timestamp
    } else {
      if (field === 1) this.readId(slot, buf, colon + 1, end);
      else if (field === 2 && isReset(buf, colon + 1, end)) this.resetEvent[slot] = 1;
      if (this.hasFields[slot] === 0) this.hasFields[slot] = 1;
    }
    return true;
  }
}

const RESET = Buffer.from('reset', 'latin1');

function isReset(buf: Uint8Array, start: number, end: number): boolean {
  if (start < end && buf[start] === 0x20) start++;
  if (end - start !== RESET.length) return false;
  for (let k = 0; k < RESET.length; k++) if (buf[start + k] !== RESET[k]) return false;
  return true;
}

function fieldIndex(buf: Uint8Array, start: number, end: number): number {
  outer: for (let f = 0; f < FIELDS.length; f++) {
    const name = FIELDS[f]!;
    if (name.length !== end - start) continue;
    for (let k = 0; k < name.length; k++) if (buf[start + k] !== name[k]) continue outer;
    return f;
  }
  return -1;
}

export const sseTransport: TransportCodec = {
  name: 'sse',
  defaultPath: '/sse/{i}',
  activeOnConnect: false,
  request: (path, host, extra) => streamingRequest(path, host, 'text/event-stream', extra),
  createSink: (capacity, listener) => new SseSink(capacity, listener),
};
