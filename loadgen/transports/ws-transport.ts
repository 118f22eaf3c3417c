/**
 * WebSocket (`GET /ws/{i}` with an Upgrade, RFC 6455): the HTTP parser reads the 101 and its headers, this sink
 * checks the handshake (Upgrade, Connection, Sec-WebSocket-Accept against the key it sent), then takes every byte
 * after the head as frames (parsers/ws-frame-parser.ts). Each message is a unit; its first bytes carry the send
 * timestamp. Pings are answered with pongs; a close frame is answered with a close and ends the connection, its
 * code counted. Client frames are masked (a fresh random key each). Per connection: the 16-byte key and two bytes of
 * state in typed arrays, the frame parser's slots, the timestamp reader's; no object or closure.
 */
import { randomFillSync } from 'node:crypto';
import { acceptFor, CLOSE, OP_CLOSE, OP_PING, OP_PONG } from '../../shared/websocket.ts';
import { TimestampReader } from '../parsers/timestamp-reader.ts';
import { CONTINUE, PAUSE, type Verdict } from '../parsers/verdict.ts';
import { WsFrameParser, type FrameSink } from '../parsers/ws-frame-parser.ts';
import { ignored, type TransportCodec, type TransportSink, type UnitListener } from './transport.ts';

const KEY_BYTES = 16;
/** Handshake checks passed so far, one bit each (all three: the 101 is valid). */
const UPGRADE_OK = 1;
const CONNECTION_OK = 2;
const ACCEPT_OK = 4;
const HANDSHAKE_OK = UPGRADE_OK | CONNECTION_OK | ACCEPT_OK;

const hasToken = (value: string, token: string) => value.split(',').some((t) => t.trim().toLowerCase() === token);

/** A masked client frame (final, payload under 126 bytes: pongs and closes are at most 125). */
export function maskedFrame(opcode: number, payload: Uint8Array): Buffer {
  const len = payload.length;
  const frame = Buffer.allocUnsafe(6 + len);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | len;
  randomFillSync(frame, 2, 4);
  for (let k = 0; k < len; k++) frame[6 + k] = payload[k]! ^ frame[2 + (k & 3)]!;
  return frame;
}

function closePayload(code: number): Uint8Array {
  return code === CLOSE.noCode ? new Uint8Array(0) : new Uint8Array([code >> 8, code & 0xff]);
}

class WsSink implements TransportSink, FrameSink {
  private readonly keys: Uint8Array;
  private readonly handshake: Uint8Array;
  private readonly frames: WsFrameParser;
  private readonly timestamps: TimestampReader;
  private readonly listener: UnitListener;

  constructor(capacity: number, listener: UnitListener) {
    this.keys = new Uint8Array(capacity * KEY_BYTES);
    this.handshake = new Uint8Array(capacity);
    this.frames = new WsFrameParser(capacity, this);
    this.timestamps = new TimestampReader(capacity);
    this.listener = listener;
  }

  /** A fresh random key for the slot's upgrade request (called once per connection attempt). */
  extraHeaders(slot: number): string {
    randomFillSync(this.keys, slot * KEY_BYTES, KEY_BYTES);
    this.handshake[slot] = 0;
    return `Sec-WebSocket-Key: ${this.key(slot)}\r\n`;
  }

  clear(slot: number): void {
    this.handshake[slot] = 0;
    this.frames.reset(slot);
    this.timestamps.clear(slot);
  }

  // BodySink: the HTTP answer to the upgrade request

  onHeader(slot: number, name: string, value: string): Verdict {
    if (name === 'upgrade' && hasToken(value, 'websocket')) this.handshake[slot]! |= UPGRADE_OK;
    else if (name === 'connection' && hasToken(value, 'upgrade')) this.handshake[slot]! |= CONNECTION_OK;
    else if (name === 'sec-websocket-accept' && value === acceptFor(this.key(slot))) this.handshake[slot]! |= ACCEPT_OK;
    return CONTINUE;
  }

  onHead(slot: number, status: number): Verdict {
    if (status === 101 && this.handshake[slot] === HANDSHAKE_OK) {
      this.frames.reset(slot);
      this.listener.onOpen(slot);
      return CONTINUE;
    }
    // a server that is not a WebSocket endpoint answers 2xx; one that refuses, 4xx/5xx (counted by status)
    this.listener.onRefused(slot, status >= 300 ? 'http_status' : 'handshake', status);
    return PAUSE;
  }

  onData(slot: number, buf: Uint8Array, start: number, end: number): Verdict {
    const v = this.frames.feed(slot, buf, start, end);
    if (v > PAUSE) this.listener.write(slot, maskedFrame(OP_CLOSE, closePayload(CLOSE.protocol))); // say why, then close
    return v;
  }

  onChunkStart = ignored;
  onChunkEnd = ignored;
  onResponseEnd = ignored;

  // FrameSink: what the server sends after the 101

  onMessageStart(slot: number): Verdict {
    this.timestamps.begin(slot);
    return CONTINUE;
  }

  onMessageData(slot: number, buf: Uint8Array, start: number, end: number): Verdict {
    this.timestamps.data(slot, buf, start, end);
    return CONTINUE;
  }

  onMessageEnd(slot: number): Verdict {
    this.listener.onUnit(slot, this.timestamps.finish(slot));
    return CONTINUE;
  }

  onControl(slot: number, opcode: number, payload: Uint8Array): Verdict {
    if (opcode === OP_PING) {
      this.listener.write(slot, maskedFrame(OP_PONG, payload));
      return CONTINUE;
    }
    if (opcode !== OP_CLOSE) return CONTINUE; // an unsolicited pong
    const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : CLOSE.noCode;
    this.listener.write(slot, maskedFrame(OP_CLOSE, closePayload(code)));
    this.listener.onWsClose(slot, code);
    return PAUSE;
  }

  private key(slot: number): string {
    return Buffer.from(this.keys.buffer, this.keys.byteOffset + slot * KEY_BYTES, KEY_BYTES).toString('base64');
  }
}

export const wsTransport: TransportCodec = {
  name: 'ws',
  defaultPath: '/ws/{i}',
  activeOnConnect: false,
  request: (path, host, extra) =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: comet-lab-loadgen\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
  createSink: (capacity, listener) => new WsSink(capacity, listener),
};
