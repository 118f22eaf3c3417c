/**
 * How a pool's connections reach the kernel: raw libuv handles (`raw`, the lean default) or `net.Socket` (`net`,
 * for runtimes where `process.binding('tcp_wrap')` is denied, e.g. under --permission). One interface, one file
 * per way; the pool addresses connections by slot and never sees a handle or a socket.
 *
 * Every callback is shared by all connections of a pool (no closure per connection); `this` is never used.
 */
import { getSystemErrorName } from 'node:util';

export type IoName = 'raw' | 'net';
export const IO_NAMES: readonly IoName[] = ['raw', 'net'];

/** What an io tells its pool. Status and error values are 0 or a negative errno (libuv's and Node's convention). */
export interface IoListener {
  /** A connect started with `connect` finished: 0, or why it failed (the slot is already closed then). */
  onConnected(slot: number, status: number): void;
  /**
   * Bytes arrived: `buf[offset, offset + len)` (offset 0 unless given), valid only during the call (one buffer is
   * shared by every connection; a batched read fills it with several connections' bytes).
   */
  onData(slot: number, buf: Buffer, len: number, offset?: number): void;
  /** The peer ended (0) or reading failed (negative errno); the slot is still open until `close`. */
  onEnd(slot: number, err: number): void;
}

export interface ClientIo {
  readonly name: IoName;
  /**
   * Starts connecting `slot` to `address:port`, from `localAddress:localPort` when given (port 0: the kernel picks).
   * Returns 0 when started (`onConnected` follows), else a negative errno (nothing to close).
   */
  connect(slot: number, address: string, port: number, localAddress: string | undefined, localPort: number): number;
  /** Starts reading a connected slot into the shared buffer; 0 or a negative errno. */
  startReading(slot: number): number;
  /** Writes a latin1 string or bytes; 0 when accepted (written or queued), else a negative errno. */
  write(slot: number, data: string | Uint8Array): number;
  /** Closes the slot's connection (pending connect included) without any callback; safe on a closed slot. */
  close(slot: number): void;
}

/** `-104` -> `ECONNRESET`; 0 and libuv's EOF -> `EOF`. */
export function errnoName(err: number): string {
  if (err === 0 || err === -4095) return 'EOF';
  try {
    return getSystemErrorName(err);
  } catch {
    return `E${-err}`;
  }
}
