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

  /** The number of the epoch named `name` (see intern). */
  internText(name: string): number {
    const b = Buffer.from(name, 'latin1');
    return this.intern(b, 0, b.length);
  }

  /** The `Last-Event-ID` value for epoch number `epoch` at `seq`: a bare number when the epoch is 0 (unknown). */
  position(epoch: number, seq: number): string {
    return epoch === 0 ? String(seq) : `${this.names[epoch]}-${seq}`;
  }
}
