/**
 * The bytes a comet stream carries, shared by the server (which writes them) and the load generator (which parses them).
 *
 * - welcome:   `Welcome to comet-lab, <id>\n`            first chunk of every stream
 * - heartbeat: `Chunk <n> for ID <id>\n`                 every interval, n from 1 (the seed's format)
 * - message:   `@<sentAtMs> <body>\n`                    a routed send or a broadcast
 *
 * `sentAtMs` is epoch milliseconds with microsecond decimals (e.g. `@1764022175123.456`), taken by the server when it
 * accepted the send, so a client on the same host measures end-to-end delivery latency by subtracting it from its own
 * clock. A chunk that does not start with `@` is not a message (a heartbeat, the welcome, or another server's data).
 * WebSocket frames carry the same lines without the trailing newline (`*Line` below).
 */

export const MESSAGE_MARK = 0x40; // '@'

export function welcomeChunk(id: string): string {
  return `${welcomeLine(id)}\n`;
}

export function heartbeatChunk(n: number, id: string): string {
  return `${heartbeatLine(n, id)}\n`;
}

/** `body` must not contain a newline-terminated prefix the parser could mistake; it is carried as is. */
export function messageChunk(sentAtMs: number, body: string): string {
  return `${messageLine(sentAtMs, body)}\n`;
}

// The same lines without the newline, for framings that delimit each payload themselves (WebSocket frames).

export function welcomeLine(id: string): string {
  return `Welcome to comet-lab, ${id}`;
}

export function heartbeatLine(n: number, id: string): string {
  return `Chunk ${n} for ID ${id}`;
}

export function messageLine(sentAtMs: number, body: string): string {
  return `@${sentAtMs.toFixed(3)} ${body}`;
}

/**
 * Reads the send timestamp at the start of a chunk held in `buf[start, end)`, without allocating.
 * Returns NaN when the chunk is not a message.
 */
export function parseSentAtMs(buf: Uint8Array, start: number, end: number): number {
  if (start >= end || buf[start] !== MESSAGE_MARK) return NaN;
  let whole = 0;
  let frac = 0;
  let scale = 1;
  let seenDigit = false;
  let inFraction = false;
  for (let i = start + 1; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x30 && c <= 0x39) {
      seenDigit = true;
      if (inFraction) {
        scale /= 10;
        frac += (c - 0x30) * scale;
      } else {
        whole = whole * 10 + (c - 0x30);
      }
    } else if (c === 0x2e && !inFraction) {
      inFraction = true;
    } else if (c === 0x20 || c === 0x0a) {
      break;
    } else {
      return NaN;
    }
  }
  return seenDigit ? whole + frac : NaN;
}
