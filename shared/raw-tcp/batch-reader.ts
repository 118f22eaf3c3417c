/**
 * Reads for a client holding many sockets, by slot: `start(handle, slot)` and `stop(handle)`, and `onData(slot,
 * buf, start, end)` with bytes valid only during the call. Two ways, one interface:
 * - `BatchReader` (batch-io addon): one crossing from C++ into JS per event-loop wake-up for every socket that
 *   had data (each read once, as a plain epoll client reads), instead of one per socket;
 * - `SharedBufferSlotReader`: Node's own per-socket read callback into one shared buffer (client-connect.ts).
 */
import type { TcpHandle } from './bindings.ts';
import type { BatchIo } from './batch-io.ts';
import { SharedBufferReader } from './client-connect.ts';

/** Bytes read for `slot` are `buf[start, end)`, valid only until this callback returns. */
export type OnSlotData = (slot: number, buf: Buffer, start: number, end: number) => void;
/** The peer ended (`err` 0) or the read failed (negative errno); reading has stopped. */
export type OnSlotEnd = (slot: number, err: number) => void;

export interface SlotReader {
  /** Starts reading `handle` as `slot`; returns 0 or a negative errno. */
  start(handle: TcpHandle, slot: number): number;
  /** Stops reading `handle` (before it is closed). */
  stop(handle: TcpHandle): void;
  /** Releases the reader (every handle stopped or closed). */
  close(): void;
}

/** A handle read by slot: its slot number rides on it. */
type SlotHandle = TcpHandle & { slot: number };

export class SharedBufferSlotReader implements SlotReader {
  private readonly reader: SharedBufferReader;

  constructor(onData: OnSlotData, onEnd: OnSlotEnd) {
    this.reader = new SharedBufferReader(
      (h, buf, n) => onData((h as SlotHandle).slot, buf, 0, n),
      (h, err) => onEnd((h as SlotHandle).slot, err),
    );
  }

  start(handle: TcpHandle, slot: number): number {
    handle.slot = slot;
    return this.reader.start(handle);
  }

  stop(handle: TcpHandle): void {
    handle.readStop();
  }

  close(): void {}
}

const BATCH_BUFFER_BYTES = 1024 * 1024;
const MAX_BATCH = 1024;

export class BatchReader implements SlotReader {
  private readonly io: BatchIo;
  private readonly reader: unknown;
  private closed = false;

  constructor(io: BatchIo, onData: OnSlotData, onEnd: OnSlotEnd) {
    this.io = io;
    const buffer = Buffer.allocUnsafeSlow(BATCH_BUFFER_BYTES);
    const results = new Int32Array(3 * MAX_BATCH);
    this.reader = io.readerCreate(buffer, results, (count) => {
      for (let k = 0; k < count; k++) {
        const slot = results[3 * k]!;
        const at = results[3 * k + 1]!;
        const n = results[3 * k + 2]!;
        if (n > 0) onData(slot, buffer, at, at + n);
        else onEnd(slot, n);
      }
    });
  }

  start(handle: TcpHandle, slot: number): number {
    return this.io.readerWatch(this.reader, handle.fd, slot);
  }

  stop(handle: TcpHandle): void {
    if (!this.closed) this.io.readerUnwatch(this.reader, handle.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.readerClose(this.reader);
  }
}
