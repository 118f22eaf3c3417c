/**
 * An HTTP/1.1 request head parser for the lean engines (raw, net): strict, allocation-light, and shared by every
 * connection (the per-connection state is only the bytes of an unfinished head, usually none).
 * Node's `http` engine uses llhttp instead; the conformance suite holds both to the same answers.
 */

/** The request head, with only the headers the server acts on picked out. */
export interface RequestHead {
  method: string;
  target: string;
  minor: number; // HTTP/1.<minor>
  keepAlive: boolean;
  contentLength: number; // -1 when absent
  chunkedBody: boolean;
  lastEventId: string | undefined;
  hasHost: boolean;
  /** The WebSocket handshake's headers (server/transports/ws-frame.ts checks them). */
  upgrade: string | undefined;
  connection: string | undefined;
  wsKey: string | undefined;
  wsVersion: string | undefined;
  /** For the routed sends a lean engine reads itself (lean-sends.ts). */
  authorization: string | undefined;
  /** The Expect header (`100-continue`: the client sends its body only after `100 Continue`). */
  expect: string | undefined;
}

export const MAX_HEAD_BYTES = 8 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
// field-value: visible ASCII, obs-text, spaces and tabs; no CR, LF or NUL
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Offset just past the blank line ending the head in `buf`, or -1 if it has not arrived yet. */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf(CRLFCRLF);
  return i < 0 ? -1 : i + 4;
}

/**
 * True when `buf[0, end)` has a line feed without a carriage return before it. RFC 9112 2.2 lets a recipient
 * accept a bare LF as a line end; llhttp (the http and express engines) refuses it with 400, so every engine does,
 * at once (a head that never holds CRLFCRLF would otherwise wait for the headers timeout).
 */
export function hasBareLf(buf: Buffer, end: number): boolean {
  for (let i = buf.indexOf(0x0a); i >= 0 && i < end; i = buf.indexOf(0x0a, i + 1)) {
    if (i === 0 || buf[i - 1] !== 0x0d) return true;
  }
  return false;
}

/**
 * Parses `buf[0, end)` (a complete head including the blank line). Returns the head or an HTTP status: 400 for a
 * malformed head, 505 for an HTTP version other than 1.0 and 1.1 (RFC 9110 15.6.6).
 */
export function parseHead(buf: Buffer, end: number): RequestHead | number {
  const text = buf.toString('latin1', 0, end - 4);
  const lines = text.split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (m === null) return 400;
  if (m[3] !== '1' || (m[4] !== '0' && m[4] !== '1')) return 505;
  const head: RequestHead = {
    method: m[1]!,
    target: m[2]!,
    minor: m[4] === '1' ? 1 : 0,
    keepAlive: m[4] === '1',
    contentLength: -1,
    chunkedBody: false,
    lastEventId: undefined,
    hasHost: false,
    upgrade: undefined,
    connection: undefined,
    wsKey: undefined,
    wsVersion: undefined,
    authorization: undefined,
    expect: undefined,
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return 400; // no name, or obs-fold (a line starting with whitespace has no token before ':')
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return 400;
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return 400;
    switch (name.toLowerCase()) {
      case 'host':
        if (head.hasHost) return 400;
        head.hasHost = true;
        break;
      case 'content-length': {
        if (!/^\d{1,15}$/.test(value)) return 400;
        const n = Number(value);
        if (head.contentLength >= 0 && head.contentLength !== n) return 400;
        head.contentLength = n;
        break;
      }
      case 'transfer-encoding':
        if (!/(^|,)\s*chunked\s*$/i.test(value)) return 400; // chunked must be last (RFC 9112 6.1)
        head.chunkedBody = true;
        break;
      case 'connection': {
        head.connection = head.connection === undefined ? value : `${head.connection}, ${value}`;
        const v = value.toLowerCase();
        if (/(^|,)\s*close\s*(,|$)/.test(v)) head.keepAlive = false;
        else if (/(^|,)\s*keep-alive\s*(,|$)/.test(v)) head.keepAlive = true;
        break;
      }
      case 'last-event-id':
        head.lastEventId = value;
        break;
      case 'upgrade':
        head.upgrade = value;
        break;
      case 'sec-websocket-key':
        if (head.wsKey !== undefined) return 400;
        head.wsKey = value;
        break;
      case 'sec-websocket-version':
        if (head.wsVersion !== undefined) return 400;
        head.wsVersion = value;
        break;
      case 'expect':
        head.expect = head.expect === undefined ? value : `${head.expect}, ${value}`;
        break;
      case 'authorization':
        if (head.authorization !== undefined) return 400;
        head.authorization = value;
        break;
    }
  }
  if (head.chunkedBody && head.contentLength >= 0) return 400; // request smuggling shape
  if (head.minor === 1 && !head.hasHost) return 400;
  return head;
}
