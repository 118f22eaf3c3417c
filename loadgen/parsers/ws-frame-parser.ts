/**
 * An incremental parser of the frames a WebSocket server sends (RFC 6455 5.2), for many connections at once, in the
 * style of HttpResponseParser: state in typed arrays by slot, bytes as they were read (a header or payload split over
 * reads, several frames in one read), a sink answering with verdicts. Data payloads are handed over in place,
 * never buffered; a control frame's payload (125 bytes at most) is handed over whole, carried in a map in the rare
 * case it is split over reads. A message (its frames up to FIN) is the unit; fragments are joined by the sink.
 */
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PONG } from '../../shared/websocket.ts';
import { CONTINUE, failWith, type Verdict } from './verdict.ts';

export interface FrameSink {
  /** A data message begins (its first frame's header was read): `opcode` is text (1) or binary (2). */
  onMessageStart(slot: number, opcode: number): Verdict;
  /** Payload bytes of the current message, `buf[start, end)`. */
  onMessageData(slot: number, buf: Uint8Array, start: number, end: number): Verdict;
  /** The message's final frame ended. */
  onMessageEnd(slot: number): Verdict;
  /** A whole control frame (ping, pong, close) with its payload. */
  onControl(slot: number, opcode: number, payload: Uint8Array): Verdict;
}

const F_HEAD0 = 0; // expecting the first header byte
const F_HEAD1 = 1;
const F_LENGTH = 2; // extended payload length bytes
const F_PAYLOAD = 3; // data payload
const F_CONTROL = 4; // control payload (collected whole)

const FIN = 0x80;
const IN_MESSAGE = 0x40; // a fragmented message is open (in `op`, beside the current frame's opcode and FIN)

const MASKED = failWith('ws-masked-frame');
const RESERVED = failWith('ws-reserved-bits');
const BAD_OPCODE = failWith('ws-bad-opcode');
const BAD_CONTROL = failWith('ws-bad-control');
const BAD_CONTINUATION = failWith('ws-bad-continuation');
const TOO_LARGE = failWith('ws-frame-too-large');

export class WsFrameParser {
  private readonly phase: Uint8Array;
  /** Current frame: opcode | FIN; plus IN_MESSAGE while a fragmented message is open. */
  private readonly op: Uint8Array;
  /** Extended length bytes still to read. */
  private readonly lengthBytes: Uint8Array;
  /** Payload bytes left in the current frame (or its length, while the extended length is read). */
  private readonly remaining: Float64Array;
  /** A control frame's payload split over reads: rare, so a map. */
  private readonly controlCarry = new Map<number, Buffer>();
  private readonly sink: FrameSink;

  constructor(capacity: number, sink: FrameSink) {
    this.phase = new Uint8Array(capacity);
    this.op = new Uint8Array(capacity);
    this.lengthBytes = new Uint8Array(capacity);
    this.remaining = new Float64Array(capacity);
    this.sink = sink;
  }

  /** A new connection (or the upgrade just happened): the next byte starts a frame. */
  reset(slot: number): void {
    this.phase[slot] = F_HEAD0;
    this.op[slot] = 0;
    this.remaining[slot] = 0;
    this.controlCarry.delete(slot);
  }

  /** Parses `buf[start, end)`; stops at the first verdict that is not CONTINUE and returns it. */
  feed(slot: number, buf: Uint8Array, start: number, end: number): Verdict {
    let i = start;
    while (i < end) {
      const phase = this.phase[slot]!;
      if (phase === F_PAYLOAD) {
        const take = Math.min(this.remaining[slot]!, end - i);
        const v = this.sink.onMessageData(slot, buf, i, i + take);
        if (v !== CONTINUE) return v;
        i += take;
        this.remaining[slot]! -= take;
        if (this.remaining[slot] === 0) {
          const f = this.frameDone(slot);
          if (f !== CONTINUE) return f;
        }
        continue;
      }
      if (phase === F_CONTROL) {
        const take = Math.min(this.remaining[slot]!, end - i);
        const carried = this.controlCarry.get(slot);
        this.remaining[slot]! -= take;
        if (this.remaining[slot]! > 0) {
          const piece = Buffer.from(buf.subarray(i, i + take));
          this.controlCarry.set(slot, carried === undefined ? piece : Buffer.concat([carried, piece]));
          i += take;
          continue;
        }
        let payload = buf.subarray(i, i + take);
        if (carried !== undefined) {
          payload = Buffer.concat([carried, payload]);
          this.controlCarry.delete(slot);
        }
        i += take;
        this.phase[slot] = F_HEAD0;
        const v = this.sink.onControl(slot, this.op[slot]! & 0x0f, payload);
        if (v !== CONTINUE) return v;
        continue;
      }
      const v = this.headerByte(slot, phase, buf[i]!);
      i++;
      if (v !== CONTINUE) return v;
    }
    return CONTINUE;
  }

  private headerByte(slot: number, phase: number, c: number): Verdict {
    if (phase === F_HEAD0) {
      if ((c & 0x70) !== 0) return RESERVED;
      const opcode = c & 0x0f;
      const open = this.op[slot]! & IN_MESSAGE;
      if (opcode >= OP_CLOSE) {
        if (opcode > OP_PONG) return BAD_OPCODE;
        if ((c & FIN) === 0) return BAD_CONTROL;
      } else if (opcode > OP_BINARY) {
        return BAD_OPCODE;
      } else if ((opcode === OP_CONTINUATION) !== (open !== 0)) {
        return BAD_CONTINUATION; // a continuation needs an open message; a new message needs none open
      }
      this.op[slot] = open | (c & (FIN | 0x0f));
      this.phase[slot] = F_HEAD1;
      return CONTINUE;
    }
    if (phase === F_HEAD1) {
      if ((c & 0x80) !== 0) return MASKED;
      const len = c & 0x7f;
      const control = (this.op[slot]! & 0x0f) >= OP_CLOSE;
      if (control && len > 125) return BAD_CONTROL;
      if (len < 126) {
        this.remaining[slot] = len;
        return this.payloadStarts(slot);
      }
      this.remaining[slot] = 0;
      this.lengthBytes[slot] = len === 126 ? 2 : 8;
      this.phase[slot] = F_LENGTH;
      return CONTINUE;
    }
    // F_LENGTH: big-endian, 2 or 8 bytes
    const r = this.remaining[slot]! * 256 + c;
    if (r > Number.MAX_SAFE_INTEGER / 256 && this.lengthBytes[slot]! > 1) return TOO_LARGE;
    this.remaining[slot] = r;
    if (--this.lengthBytes[slot]! > 0) return CONTINUE;
    return this.payloadStarts(slot);
  }

  /** The header is complete: tell the sink, then read the payload (or finish an empty frame). */
  private payloadStarts(slot: number): Verdict {
    const op = this.op[slot]!;
    const opcode = op & 0x0f;
    if (opcode >= OP_CLOSE) {
      this.phase[slot] = F_CONTROL;
      if (this.remaining[slot] === 0) {
        this.phase[slot] = F_HEAD0;
        return this.sink.onControl(slot, opcode, EMPTY);
      }
      return CONTINUE;
    }
    if (opcode !== OP_CONTINUATION) {
      const v = this.sink.onMessageStart(slot, opcode);
      if (v !== CONTINUE) return v;
    }
    this.phase[slot] = F_PAYLOAD;
    return this.remaining[slot] === 0 ? this.frameDone(slot) : CONTINUE;
  }

  /** A data frame's payload ended: the message ends with it if it is final, else stays open. */
  private frameDone(slot: number): Verdict {
    this.phase[slot] = F_HEAD0;
    if ((this.op[slot]! & FIN) === 0) {
      this.op[slot] = IN_MESSAGE;
      return CONTINUE;
    }
    this.op[slot] = 0;
    return this.sink.onMessageEnd(slot);
  }
}

const EMPTY = new Uint8Array(0);
