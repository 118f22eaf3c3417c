/**
 * Reads the server's send timestamp (`@<sentAtMs> ...`, see shared/message-format.ts) from the first bytes of a unit
 * (an HTTP chunk, an SSE data field, a poll answer) that may arrive in several pieces. Almost always the timestamp is
 * whole in the first piece and is parsed in place; the rare split one is carried in a map, never a buffer per slot.
 */
import { MESSAGE_MARK, parseSentAtMs } from '../../shared/message-format.ts';

const PREFIX_BYTES = 40; // `@` + 13 digits + `.` + a few decimals, with room to spare

const IDLE = 0;
const COLLECTING = 1;
const DONE = 2;

export class TimestampReader {
  private readonly state: Uint8Array;
  private readonly sentAt: Float64Array;
  private readonly carry = new Map<number, Buffer>();

  constructor(capacity: number) {
    this.state = new Uint8Array(capacity);
    this.sentAt = new Float64Array(capacity);
  }

  /** A new unit begins on `slot`. */
  begin(slot: number): void {
    this.state[slot] = COLLECTING;
    this.sentAt[slot] = NaN;
    // the map is empty almost always; skipping its three lookups per chunk: 0.13-0.20 µs per chunk read instead of
    // 0.16-0.30 (parser alone, 6,000,000 heartbeat reads, busy host)
    if (this.carry.size > 0) this.carry.delete(slot);
  }

  /** The next piece of the unit's bytes. */
  data(slot: number, buf: Uint8Array, start: number, end: number): void {
    if (this.state[slot] !== COLLECTING || start >= end) return;
    const carried = this.carry.size > 0 ? this.carry.get(slot) : undefined;
    if (carried === undefined) {
      if (buf[start] !== MESSAGE_MARK) {
        this.state[slot] = DONE; // not a message: heartbeat, welcome, another server's data
        return;
      }
      const limit = Math.min(end, start + PREFIX_BYTES);
      if (hasTerminator(buf, start, limit) || limit - start === PREFIX_BYTES) {
        this.sentAt[slot] = parseSentAtMs(buf, start, limit);
        this.state[slot] = DONE;
      } else {
        this.carry.set(slot, Buffer.from(buf.subarray(start, limit)));
      }
      return;
    }
    const joined = Buffer.concat([carried, buf.subarray(start, Math.min(end, start + PREFIX_BYTES))]).subarray(0, PREFIX_BYTES);
    if (hasTerminator(joined, 0, joined.length) || joined.length === PREFIX_BYTES) {
      this.carry.delete(slot);
      this.sentAt[slot] = parseSentAtMs(joined, 0, joined.length);
      this.state[slot] = DONE;
    } else {
      this.carry.set(slot, joined);
    }
  }

  /** The unit ended: its send timestamp, or NaN if it carried none. */
  finish(slot: number): number {
    const carried = this.carry.size > 0 ? this.carry.get(slot) : undefined;
    if (carried !== undefined) {
      this.carry.delete(slot);
      this.sentAt[slot] = parseSentAtMs(carried, 0, carried.length);
    }
    this.state[slot] = IDLE;
    return this.sentAt[slot]!;
  }

  /** Drops a slot's partial state (its connection closed). */
  clear(slot: number): void {
    this.state[slot] = IDLE;
    if (this.carry.size > 0) this.carry.delete(slot);
  }
}

function hasTerminator(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start + 1; i < end; i++) {
    const c = buf[i];
    if (c === 0x20 || c === 0x0a) return true;
  }
  return false;
}
