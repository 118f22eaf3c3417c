/**
 * RFC 6455 on the server side, for the lean engines (raw, net): the handshake's checks and answer, and the frames the
 * server writes (unmasked: a server never masks). The http/express engines use the `ws` library for framing but
 * take their handshake decisions here too, so every engine answers a bad upgrade the same way.
 */
import { acceptFor, OP_CLOSE } from '../../shared/websocket.ts';

/** A Sec-WebSocket-Key is 16 bytes in base64: 22 characters and `==`. */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** The upgrade-related request headers, as read (undefined when absent). */
export interface UpgradeHeaders {
  upgrade: string | undefined;
  connection: string | undefined;
  key: string | undefined;
  version: string | undefined;
}

/** Why a `/ws/:id` request cannot be upgraded: an HTTP status, a message and extra header lines; undefined when it can. */
export interface HandshakeRefusal {
  status: 400 | 426;
  message: string;
  headers: string;
}

const hasToken = (value: string | undefined, token: string) =>
  value !== undefined && value.split(',').some((t) => t.trim().toLowerCase() === token);

/** Checks an upgrade request (RFC 6455 4.2.1). HTTP/1.0 cannot upgrade. */
export function refuseHandshake(h: UpgradeHeaders, http11: boolean): HandshakeRefusal | undefined {
  const upgradeRequired = 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n';
  if (!hasToken(h.upgrade, 'websocket')) {
    return { status: 426, message: 'a WebSocket endpoint: send Upgrade: websocket', headers: upgradeRequired };
  }
  if (!http11) return { status: 400, message: 'a WebSocket upgrade needs HTTP/1.1', headers: '' };
  if (!hasToken(h.connection, 'upgrade')) return { status: 400, message: 'Connection: Upgrade missing', headers: '' };
  if (h.version?.trim() !== '13') {
    return { status: 426, message: 'Sec-WebSocket-Version must be 13', headers: 'Sec-WebSocket-Version: 13\r\n' };
  }
  if (h.key === undefined || !KEY.test(h.key.trim())) {
    return { status: 400, message: 'Sec-WebSocket-Key must be 16 bytes in base64', headers: '' };
  }
  return undefined;
}

/** The 101 answer; the welcome frame follows it in the same write. */
export function switchingProtocols(key: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
}

/**
 * One unmasked final frame around `payload` (a string is written as UTF-8). A short text frame (under 126 bytes,
 * every heartbeat) has a 2-byte header: one small Buffer from Node's pool, one UTF-8 copy, no other work per tick.
 */
export function serverFrame(opcode: number, payload: string | Uint8Array): Buffer {
  const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = 0x80 | opcode;
  if (head === 2) {
    frame[1] = len;
  } else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  if (typeof payload === 'string') frame.write(payload, head, len, 'utf8');
  else frame.set(payload, head);
  return frame;
}

/** A close frame with `code` (and no reason), or an empty one when code is 0. */
export function closeFrame(code: number): Buffer {
  if (code === 0) return serverFrame(OP_CLOSE, new Uint8Array(0));
  const body = Buffer.allocUnsafe(2);
  body.writeUInt16BE(code, 0);
  return serverFrame(OP_CLOSE, body);
}
