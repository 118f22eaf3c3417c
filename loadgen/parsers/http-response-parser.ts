/**
 * An incremental HTTP/1.1 response parser for many connections at once. Its state lives in typed arrays indexed by a
 * connection slot, so a held connection costs a few bytes here and no closure. Bytes arrive as they were read (a
 * response head, a chunk-size line or a chunk body may be split across reads, or several may share one read); the
 * parser decodes the body framing (chunked, Content-Length, or until close) and hands the payload to a sink, which
 * makes what it wants of it (count chunks, SSE events, poll answers, WebSocket frames after a 101).
 *
 * The sink answers every callback with a verdict, as llhttp's callbacks answer with a return code (undici's
 * parser): go on, pause (the sink ended the connection: parsing this slot stops until `reset`), or a protocol
 * problem. The sink holds no reference to the parser.
 */
import { CONTINUE, PAUSE, problemOf, type ProtocolProblem, type Verdict } from './verdict.ts';

/** Where the parser delivers what it decoded. `slot` is the connection; byte ranges are `buf[start, end)`. */
export interface BodySink {
  /** One header line of a final response head (`name` lower case, `value` trimmed), before onHead. */
  onHeader(slot: number, name: string, value: string): Verdict;
  /** The status line and headers were read; the body framing is known. After a 101, every byte is onData. */
  onHead(slot: number, status: number): Verdict;
  /** A chunk of chunked framing begins (chunk-size line read, size > 0). Not called for other framings. */
  onChunkStart(slot: number): Verdict;
  /** Payload bytes, de-framed (after a 101: the upgraded protocol's bytes). For chunked framing, within one chunk. */
  onData(slot: number, buf: Uint8Array, start: number, end: number): Verdict;
  /** The current chunk's payload ended. */
  onChunkEnd(slot: number): Verdict;
  /** The whole response was read (last chunk, Content-Length reached, or EOF for a close-delimited body). */
  onResponseEnd(slot: number, status: number): Verdict;
}

const P_HEAD = 0;
const P_SIZE = 1; // reading chunk-size hex digits
const P_SIZE_REST = 2; // chunk extension or whitespace until CR
const P_SIZE_LF = 3;
const P_DATA = 4;
const P_DATA_CR = 5;
const P_DATA_LF = 6;
const P_TRAILER_START = 7; // after the last chunk: an empty line or trailer fields
const P_TRAILER_LINE = 8;
const P_TRAILER_LF = 9;
const P_LENGTH = 10; // Content-Length body
const P_UNTIL_CLOSE = 11;
const P_DONE = 12; // response complete: the next byte starts a new head (poll re-uses the connection)
const P_FAILED = 13; // stopped: a protocol problem, or the sink paused (ended the connection)
const P_UPGRADED = 14; // after 101 Switching Protocols: every byte goes to the sink as it is

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_SIZE_DIGITS = 8; // 4 GiB chunks and more are treated as malformed rather than trusted

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x41 + c] = HEX[0x61 + c] = 10 + c;

const CR = 0x0d;
const LF = 0x0a;

export class HttpResponseParser {
  private readonly phase: Uint8Array;
  private readonly digits: Uint8Array;
  private readonly status: Uint16Array;
  /** Chunk bytes left, chunk size being read, or Content-Length left. */
  private readonly remaining: Float64Array;
  /** Partial response heads: rare (a head split across reads), so a map rather than a buffer per connection. */
  private readonly headCarry = new Map<number, Buffer>();
  private readonly sink: BodySink;
  /** Set when `feed` returns false because of a protocol problem (undefined when the sink paused). */
  problem: ProtocolProblem | undefined;

  constructor(capacity: number, sink: BodySink) {
    this.phase = new Uint8Array(capacity);
    this.digits = new Uint8Array(capacity);
    this.status = new Uint16Array(capacity);
    this.remaining = new Float64Array(capacity);
    this.sink = sink;
  }

  /** Forget a slot's state: a new connection (or reconnection) starts by reading a head. */
  reset(slot: number): void {
    this.phase[slot] = P_HEAD;
    this.status[slot] = 0;
    this.remaining[slot] = 0;
    this.headCarry.delete(slot);
  }

  /** True once a head was read and the response is still streaming or complete. */
  headRead(slot: number): boolean {
    const p = this.phase[slot]!;
    return p !== P_HEAD && p !== P_FAILED;
  }

  /** The connection hit EOF: a close-delimited body ends here. Returns whether the response was complete. */
  end(slot: number): boolean {
    if (this.phase[slot] === P_UNTIL_CLOSE) {
      this.phase[slot] = P_DONE;
      this.verdict(slot, this.sink.onResponseEnd(slot, this.status[slot]!));
      return true;
    }
    return this.phase[slot] === P_DONE;
  }

  /**
   * Parses `buf[start, end)` read on `slot`. Returns false when the slot must close: on a protocol error (`problem` is
   * set) or because the sink called `stop` (`problem` is undefined).
   */
  feed(slot: number, buf: Uint8Array, start: number, end: number): boolean {
    this.problem = undefined;
    let i = start;
    while (i < end) {
      const phase = this.phase[slot]!;
      if (phase === P_HEAD || phase === P_DONE) {
        i = this.readHead(slot, buf, i, end);
        if (i < 0) return false;
        continue;
      }
      if (phase === P_DATA) {
        const take = Math.min(this.remaining[slot]!, end - i);
        if (!this.verdict(slot, this.sink.onData(slot, buf, i, i + take))) return false;
        i += take;
        this.remaining[slot]! -= take;
        if (this.remaining[slot] === 0) {
          this.phase[slot] = P_DATA_CR;
          if (!this.verdict(slot, this.sink.onChunkEnd(slot))) return false;
        }
        continue;
      }
      if (phase === P_LENGTH) {
        const take = Math.min(this.remaining[slot]!, end - i);
        if (!this.verdict(slot, this.sink.onData(slot, buf, i, i + take))) return false;
        i += take;
        this.remaining[slot]! -= take;
        if (this.remaining[slot] === 0 && !this.finish(slot)) return false;
        continue;
      }
      if (phase === P_UNTIL_CLOSE || phase === P_UPGRADED) {
        if (!this.verdict(slot, this.sink.onData(slot, buf, i, end))) return false;
        break;
      }
      if (phase === P_FAILED) return false;
      if (!this.step(slot, phase, buf[i]!)) return false;
      i++;
    }
    return this.phase[slot] !== P_FAILED;
  }

  /** One byte of chunk framing outside chunk data. */
  private step(slot: number, phase: number, c: number): boolean {
    switch (phase) {
      case P_SIZE: {
        const v = HEX[c]!;
        if (v >= 0) {
          if (++this.digits[slot]! > MAX_SIZE_DIGITS) return this.fail(slot, 'chunk-size-too-large');
          this.remaining[slot] = this.remaining[slot]! * 16 + v;
          return true;
        }
        if (this.digits[slot] === 0) return this.fail(slot, 'bad-chunk-size');
        if (c === CR) this.phase[slot] = P_SIZE_LF;
        else if (c === LF) return this.sizeDone(slot);
        else if (c === 0x3b || c === 0x20 || c === 0x09) this.phase[slot] = P_SIZE_REST;
        else return this.fail(slot, 'bad-chunk-size');
        return true;
      }
      case P_SIZE_REST:
        if (c === CR) this.phase[slot] = P_SIZE_LF;
        else if (c === LF) return this.sizeDone(slot);
        return true;
      case P_SIZE_LF:
        if (c !== LF) return this.fail(slot, 'bad-chunk-size');
        return this.sizeDone(slot);
      case P_DATA_CR:
        if (c === CR) this.phase[slot] = P_DATA_LF;
        else if (c === LF) this.nextSize(slot);
        else return this.fail(slot, 'bad-chunk-end');
        return true;
      case P_DATA_LF:
        if (c !== LF) return this.fail(slot, 'bad-chunk-end');
        this.nextSize(slot);
        return true;
      case P_TRAILER_START:
        if (c === CR) this.phase[slot] = P_TRAILER_LF;
        else if (c === LF) return this.finish(slot);
        else this.phase[slot] = P_TRAILER_LINE;
        return true;
      case P_TRAILER_LINE:
        if (c === LF) this.phase[slot] = P_TRAILER_START;
        return true;
      case P_TRAILER_LF:
        if (c !== LF) return this.fail(slot, 'bad-chunk-end');
        return this.finish(slot);
    }
    return this.fail(slot, 'bad-chunk-size');
  }

  private nextSize(slot: number): void {
    this.phase[slot] = P_SIZE;
    this.digits[slot] = 0;
    this.remaining[slot] = 0;
  }

  private sizeDone(slot: number): boolean {
    if (this.remaining[slot] === 0) {
      this.phase[slot] = P_TRAILER_START;
      return true;
    }
    this.phase[slot] = P_DATA;
    return this.verdict(slot, this.sink.onChunkStart(slot));
  }

  private finish(slot: number): boolean {
    this.phase[slot] = P_DONE;
    return this.verdict(slot, this.sink.onResponseEnd(slot, this.status[slot]!));
  }

  /** Acts on a sink's verdict: true to go on; false when the slot stopped (paused, or a protocol problem). */
  private verdict(slot: number, v: Verdict): boolean {
    if (v === CONTINUE) return true;
    if (v === PAUSE) {
      this.stop(slot);
      return false;
    }
    return this.fail(slot, problemOf(v));
  }

  private fail(slot: number, problem: ProtocolProblem): false {
    this.phase[slot] = P_FAILED;
    this.problem = problem;
    this.headCarry.delete(slot);
    return false;
  }

  private failAt(slot: number, problem: ProtocolProblem): number {
    this.fail(slot, problem);
    return -1;
  }

  /** Stops parsing a slot without a protocol problem (its connection is being closed). */
  stop(slot: number): void {
    this.phase[slot] = P_FAILED;
    this.headCarry.delete(slot);
  }

  /** Reads a response head starting at `i`; returns the index after it, `end` if incomplete, or -1 on error. */
  private readHead(slot: number, buf: Uint8Array, i: number, end: number): number {
    const carry = this.headCarry.get(slot);
    // Search for the blank line, including the carried bytes' tail (the CRLFCRLF may straddle two reads).
    let head: Buffer;
    let bodyAt = -1;
    if (carry === undefined) {
      const at = findHeadEnd(buf, i, end, i);
      if (at < 0) {
        if (end - i > MAX_HEAD_BYTES) return this.failAt(slot, 'head-too-large');
        this.headCarry.set(slot, Buffer.from(buf.subarray(i, end)));
        return end;
      }
      head = Buffer.from(buf.buffer, buf.byteOffset + i, at - i);
      bodyAt = at;
    } else {
      const joined = Buffer.concat([carry, buf.subarray(i, end)]);
      const at = findHeadEnd(joined, 0, joined.length, Math.max(0, carry.length - 3));
      if (at < 0) {
        if (joined.length > MAX_HEAD_BYTES) return this.failAt(slot, 'head-too-large');
        this.headCarry.set(slot, joined);
        return end;
      }
      this.headCarry.delete(slot);
      head = joined.subarray(0, at);
      bodyAt = i + (at - carry.length);
    }
    if (!this.parseHead(slot, head.toString('latin1'))) return -1;
    return bodyAt;
  }

  private parseHead(slot: number, text: string): boolean {
    const lines = text.split(/\r?\n/);
    const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
    if (m === null) return this.fail(slot, 'bad-status-line');
    const status = Number(m[1]);
    // an interim answer (100 Continue, 103 Early Hints): its head is skipped, the final one follows
    const interim = status >= 100 && status < 200 && status !== 101;
    let chunked = false;
    let length = -1;
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k]!;
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) return this.fail(slot, 'bad-header');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'content-length') {
        if (!/^\d+$/.test(value)) return this.fail(slot, 'bad-header');
        length = Number(value);
      }
      if (!interim && !this.verdict(slot, this.sink.onHeader(slot, name, value))) return false;
    }
    if (interim) {
      this.phase[slot] = P_HEAD;
      return true;
    }
    this.status[slot] = status;
    if (!this.verdict(slot, this.sink.onHead(slot, status))) return false;
    // 204 and 304 have no body; a HEAD-less client never asks for one. After 101 the bytes are another protocol's.
    if (status === 101) {
      this.phase[slot] = P_UPGRADED;
    } else if (status === 204 || status === 304) {
      return this.finish(slot);
    } else if (chunked) {
      this.nextSize(slot);
    } else if (length >= 0) {
      this.remaining[slot] = length;
      this.phase[slot] = P_LENGTH;
      if (length === 0) return this.finish(slot);
    } else {
      this.phase[slot] = P_UNTIL_CLOSE;
    }
    return true;
  }
}

/** Index just past the first CRLFCRLF (or LFLF) in `buf[from, end)`, or -1. */
function findHeadEnd(buf: Uint8Array, start: number, end: number, from: number): number {
  for (let k = Math.max(start, from); k < end; k++) {
    if (buf[k] !== LF) continue;
    if (k - 1 >= start && buf[k - 1] === LF) return k + 1;
    if (k - 2 >= start && buf[k - 1] === CR && buf[k - 2] === LF) return k + 1;
  }
  return -1;
}
