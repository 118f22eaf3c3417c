/**
 * Client frames on a lean engine's WebSocket (RFC 6455 5): incremental, over the connection's `hb` field (the bytes
 * of an unfinished frame, as it holds an unfinished request head before the upgrade), so a WebSocket stream keeps
 * the same fields as a chunked one. The comet stream flows server to client: a client's data messages are checked
 * and dropped, pings are answered, a close is answered and ends the stream, and every violation closes the
 * connection with the RFC's code (1002 protocol, 1007 bad UTF-8, 1009 too big) without touching other streams.
 */
import { isUtf8 } from 'node:buffer';
import { CLOSE, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, validCloseCode } from '../../shared/websocket.ts';

/**
 * Largest client message accepted: the server expects none (a client's messages are not routed anywhere), so a
 * small bound keeps an unfinished frame's bytes per connection small; control frames are 125 bytes at most anyway.
 */
export const MAX_CLIENT_MESSAGE = 4096;

/** `fm` bits while a fragmented client message is open (the lean engines' other `fm` bits are HTTP's). */
export const FM_FRAGMENTED = 8;

export interface ClientFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer; // unmasked
  end: number; // offset after the frame
}

/** Parses the frame at `buf[i..]`: the frame, 0 when it is not complete yet, or the close code of a violation. */
export function nextClientFrame(buf: Buffer, i: number): ClientFrame | number {
  if (buf.length - i < 2) return 0;
  const b0 = buf[i]!;
  const b1 = buf[i + 1]!;
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  if ((b0 & 0x70) !== 0) return CLOSE.protocol; // reserved bits: no extension was negotiated
  if (opcode > OP_BINARY && opcode < OP_CLOSE) return CLOSE.protocol;
  if (opcode > OP_PONG) return CLOSE.protocol;
  if ((b1 & 0x80) === 0) return CLOSE.protocol; // a client frame must be masked (5.1)
  const control = opcode >= OP_CLOSE;
  let len = b1 & 0x7f;
  let at = i + 2;
  if (control && (!fin || len > 125)) return CLOSE.protocol; // control frames: never fragmented, short (5.5)
  if (len === 126) {
    if (buf.length - at < 2) return 0;
    len = buf.readUInt16BE(at);
    at += 2;
  } else if (len === 127) {
    if (buf.length - at < 8) return 0;
    if (buf.readUInt32BE(at) !== 0) return CLOSE.tooBig;
    len = buf.readUInt32BE(at + 4);
    at += 8;
  }
  if (len > MAX_CLIENT_MESSAGE) return CLOSE.tooBig; // decided on the header: the payload is never buffered
  if (buf.length - at < 4 + len) return 0;
  const m = at;
  at += 4;
  const payload = Buffer.allocUnsafe(len);
  for (let k = 0; k < len; k++) payload[k] = buf[at + k]! ^ buf[m + (k & 3)]!;
  return { fin, opcode, payload, end: at + len };
}

/** What the engine does with the frames' meaning. */
export interface WsActions<C> {
  pong(c: C, payload: Buffer): void;
  /** The client closed: answer with `code` (0: an empty close) and end the stream. */
  clientClosed(c: C, code: number): void;
  /** A violation: close with `code`. */
  fail(c: C, code: number): void;
}

interface WsConn {
  hb: Buffer | undefined;
  fm: number;
}

/**
 * Reads client frames for every WebSocket of one engine. The only per-connection state beyond `hb`/`fm` is the
 * payload of a fragmented message in progress (in a map, rare: the lab's clients send none).
 */
export class ClientFrames<C extends WsConn> {
  private readonly fragments = new Map<C, Buffer>();
  private readonly actions: WsActions<C>;
  /** Whether the connection is still open (the actions may end it mid-read). */
  private readonly open: (c: C) => boolean;

  constructor(actions: WsActions<C>, open: (c: C) => boolean) {
    this.actions = actions;
    this.open = open;
  }

  data(c: C, data: Buffer): void {
    const buf = c.hb === undefined ? data : Buffer.concat([c.hb, data]);
    c.hb = undefined;
    let i = 0;
    while (i < buf.length && this.open(c)) {
      const f = nextClientFrame(buf, i);
      if (f === 0) {
        c.hb = Buffer.from(buf.subarray(i)); // a copy: never pins a whole read buffer
        return;
      }
      if (typeof f === 'number') return this.fail(c, f);
      i = f.end;
      const code = this.frame(c, f);
      if (code !== 0) return this.fail(c, code);
    }
  }

  /** Forgets a closed connection's fragments. */
  forget(c: C): void {
    if ((c.fm & FM_FRAGMENTED) !== 0) this.fragments.delete(c);
  }

  private fail(c: C, code: number): void {
    this.forget(c);
    this.actions.fail(c, code);
  }

  /** Acts on one frame; returns 0 or the close code of a violation. */
  private frame(c: C, f: ClientFrame): number {
    switch (f.opcode) {
      case OP_PING:
        this.actions.pong(c, f.payload);
        return 0;
      case OP_PONG:
        return 0;
      case OP_CLOSE: {
        if (f.payload.length === 1) return CLOSE.protocol;
        let code = 0;
        if (f.payload.length >= 2) {
          code = f.payload.readUInt16BE(0);
          if (!validCloseCode(code)) return CLOSE.protocol;
          if (!isUtf8(f.payload.subarray(2))) return CLOSE.badData;
        }
        this.forget(c);
        this.actions.clientClosed(c, code);
        return 0;
      }
      case OP_CONTINUATION: {
        const held = this.fragments.get(c);
        if (held === undefined) return CLOSE.protocol; // nothing to continue
        if (held.length - 1 + f.payload.length > MAX_CLIENT_MESSAGE) return CLOSE.tooBig;
        const joined = Buffer.concat([held, f.payload]);
        if (!f.fin) {
          this.fragments.set(c, joined);
          return 0;
        }
        this.fragments.delete(c);
        c.fm &= ~FM_FRAGMENTED;
        // byte 0 remembers the message's opcode
        return joined[0] === OP_TEXT && !isUtf8(joined.subarray(1)) ? CLOSE.badData : 0;
      }
      default: {
        // a new text or binary message
        if ((c.fm & FM_FRAGMENTED) !== 0) return CLOSE.protocol; // the previous one is not finished
        if (f.fin) return f.opcode === OP_TEXT && !isUtf8(f.payload) ? CLOSE.badData : 0;
        c.fm |= FM_FRAGMENTED;
        this.fragments.set(c, Buffer.concat([Buffer.from([f.opcode]), f.payload]));
        return 0;
      }
    }
  }
}
