/**
 * Test helper: a WebSocket client on a plain net.Socket, written from RFC 6455 so that a test can send what a
 * library never would (unmasked frames, reserved bits, fragmented pings, bad UTF-8) and see every byte the server
 * writes back. Conformance with a real library is tested with the `ws` package's client beside it.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  masked: boolean;
  opcode: number;
  payload: Buffer;
}

export interface RawWs {
  /** The response head as text (status line and headers). */
  head: string;
  status: number;
  /** Sec-WebSocket-Accept as the RFC computes it for the key sent. */
  expectedAccept: string;
  frames: ServerFrame[];
  send(bytes: Buffer | string): void;
  /** Resolves with the first frame (from the start) that `pick` accepts. */
  waitFrame(pick: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  /** Resolves when the server closed the TCP connection. */
  closed: Promise<void>;
  destroy(): void;
}

/** A client frame; masked unless `mask` is false. */
export function clientFrame(opcode: number, payload: Buffer | string, o: { fin?: boolean; rsv?: number; mask?: boolean; length?: number } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = o.length ?? body.length;
  const mask = o.mask ?? true;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), body]);
  const key = randomBytes(4);
  const masked = Buffer.from(body);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}

function parseFrames(buf: Buffer, out: ServerFrame[]): number {
  let i = 0;
  for (;;) {
    if (buf.length - i < 2) return i;
    const b0 = buf[i]!;
    const b1 = buf[i + 1]!;
    let len = b1 & 0x7f;
    let at = i + 2;
    if (len === 126) {
      if (buf.length - at < 2) return i;
      len = buf.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      if (buf.length - at < 8) return i;
      len = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) at += 4;
    if (buf.length - at < len) return i;
    out.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, masked, opcode: b0 & 0x0f, payload: buf.subarray(at, at + len) });
    i = at + len;
  }
}

/** Opens `path` with an upgrade request (extra header lines may replace the defaults: pass `headers`). */
export function openRawWs(port: number, path: string, o: { headers?: string; httpVersion?: string } = {}): Promise<RawWs> {
  const key = randomBytes(16).toString('base64');
  const expectedAccept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const headers = o.headers ?? `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let ws: RawWs | undefined;
    const frames: ServerFrame[] = [];
    const waiters = new Set<() => void>();
    let onClosed!: () => void;
    const closed = new Promise<void>((r) => (onClosed = r));
    s.on('error', () => {});
    s.on('close', () => {
      onClosed();
      if (!ws) reject(new Error(`closed before a response head: ${JSON.stringify(buf.toString('latin1'))}`));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!ws) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 4);
        ws = {
          head,
          status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0),
          expectedAccept,
          frames,
          send: (bytes) => void s.write(bytes),
          closed,
          destroy: () => s.destroy(),
          waitFrame(pick, timeoutMs = 5000) {
            const found = () => frames.find(pick);
            const now = found();
            if (now) return Promise.resolve(now);
            return new Promise((ok, fail) => {
              const timer = setTimeout(() => {
                waiters.delete(check);
                fail(new Error(`no such frame in ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => [f.opcode, f.payload.toString('latin1')]))}`));
              }, timeoutMs);
              const check = () => {
                const f = found();
                if (!f) return;
                clearTimeout(timer);
                waiters.delete(check);
                ok(f);
              };
              waiters.add(check);
            });
          },
        };
        resolve(ws);
      }
      if (ws.status === 101) buf = buf.subarray(parseFrames(buf, frames));
      for (const w of [...waiters]) w();
    });
    s.write(`GET ${path} HTTP/${o.httpVersion ?? '1.1'}\r\nHost: 127.0.0.1\r\n${headers}\r\n`);
  });
}

/** The code of a close frame (0 when it has none). */
export const closeCode = (f: ServerFrame) => (f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 0);
