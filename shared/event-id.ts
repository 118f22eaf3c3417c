/**
 * Stream positions as the server writes them (SSE `id:`, long-poll `Comet-Event-Id`) and clients send them back
 * (`Last-Event-ID`): `<epoch>-<seq>`. The sequence numbers messages within one run of a server; the epoch is a
 * random word chosen when that server starts, so a position from an earlier run is recognised as such and answered
 * with a reset instead of being compared with numbers that restarted at 1 (Centrifugo's offset plus epoch).
 */
/** An epoch: 8 characters of [0-9a-z]. */
export const EPOCH_PATTERN = /^[0-9a-z]{8}$/;
const EVENT_ID = /^([0-9a-z]{8})-(\d{1,15})$/;

/**
 * A fresh random epoch: 36^8 (about 2.8e12) values, so two runs of a server picking the same one is not a concern.
 * Not a secret, so Math.random serves (node:crypto would cost every worker process that imports this module).
 */
export function newEpoch(): string {
  let e = '';
  for (let i = 0; i < 8; i++) e += Math.floor(Math.random() * 36).toString(36);
  return e;
}

/** `<epoch>-<seq>`. */
export function formatEventId(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** The epoch and sequence of a position, or undefined when `text` is not one. */
export function parseEventId(text: string): { epoch: string; seq: number } | undefined {
  const m = EVENT_ID.exec(text.trim());
  return m === null ? undefined : { epoch: m[1]!, seq: Number(m[2]) };
}

/**
 * The epochs a client has seen, each kept once and named by a small number, so that a client holding many
 * connections keeps a position as two numbers per connection (sequence and epoch number), not a string.
 */
export class EpochTable {
  private readonly names: string[] = [''];
  private readonly bytes: Buffer[] = [Buffer.alloc(0)];

  /** The number of the epoch in `buf[start, end)` (added when new; 0 when it is not an epoch). */
  intern(buf: Uint8Array, start: number, end: number): number {
    if (end - start !== 8) return 0;
    for (let i = this.bytes.length - 1; i > 0; i--) {
      const b = this.bytes[i]!;
      let k = 0;
      while (k < 8 && b[k] === buf[start + k]) k++;
      if (k === 8) return i;
    }
    const name = Buffer.from(buf.subarray(start, end)).toString('latin1');
    if (!EPOCH_PATTERN.test(name)) return 0;
    if (this.names.length >= 0xffff) return 0; // a client that saw 65,535 server runs: forget positions instead
    this.names.push(name);
    this.bytes.push(Buffer.from(name, 'latin1'));
    return this.names.length - 1;
  }

  /** Epoch number of the last position `read` parsed. */
  readEpoch = 0;

  /**
   * Reads a position in `buf[start, end)` (a leading space skipped): `<epoch>-<seq>` or a bare `<seq>`. Returns the
   * sequence (NaN when it is not a position) and leaves the epoch's number in `readEpoch` (0 for a bare number).
   */
  read(buf: Uint8Array, start: number, end: number): number {
    if (start < end && buf[start] === 0x20) start++;
    let dash = -1;
    for (let k = start; k < end; k++) {
      if (buf[k] === 0x2d) {
        dash = k;
        break;
      }
    }
    let epoch = 0;
    if (dash >= 0) {
      epoch = this.intern(buf, start, dash);
      if (epoch === 0) return NaN;
      start = dash + 1;
    }
    if (end <= start || end - start > 15) return NaN;
    let n = 0;
    for (let k = start; k < end; k++) {
      const c = buf[k]!;
      if (c < 0x30 || c > 0x39) return NaN;
      n = n * 10 + (c - 0x30);
    }
    this.readEpoch = epoch;
    return n;
  }

  /** `read` on a header value. */
  readText(text: string): number {
    const b = Buffer.from(text, 'latin1');
    return this.read(b, 0, b.length);
  }

  /** The `Last-Event-ID` value for epoch number `epoch` at `seq`: a bare number when the epoch is 0 (unknown). */
  position(epoch: number, seq: number): string {
    return epoch === 0 ? String(seq) : `${this.names[epoch]}-${seq}`;
  }
}
