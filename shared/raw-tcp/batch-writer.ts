/**
 * Writes of one event-loop task, gathered and handed to batch-io's writeStrings in one call at the end of the task
 * (a microtask): a heartbeat turn or a broadcast fan-out crosses into C++ once instead of once per socket. Per
 * handle, bytes leave in the order they were written: a write to a handle that libuv still holds bytes for, a
 * close and a hand-off first flush the batch, and what the kernel did not take at once goes to libuv's queue
 * behind it (writeRaw), so libuv and the batch never write one socket at the same time.
 */
import { constants } from 'node:os';
import type { TcpHandle } from './bindings.ts';
import type { BatchIo } from './batch-io.ts';
import { queuedBytes, writeRaw } from './stream-ops.ts';

const EAGAIN = -constants.errno.EAGAIN;

/** A handle the writer can write: its file descriptor, read once when it was accepted (`fd` is a C++ getter). */
export type FdHandle = TcpHandle & { fdn: number };

export class BatchWriter {
  private readonly io: BatchIo;
  private readonly onFail: (h: FdHandle, err: number) => void;
  private readonly fds: Int32Array;
  /** What C reads: the string or bytes, or 0 for "the same as the entry before" (a broadcast's one payload). */
  private readonly entries: (string | Uint8Array | number)[];
  /** The data of each entry, for what the kernel did not take at once. */
  private readonly data: (string | Uint8Array)[];
  private readonly handles: (FdHandle | undefined)[];
  private readonly results: Int32Array;
  private n = 0;
  private scheduled = false;
  private readonly flushTask = () => {
    this.scheduled = false;
    this.flush();
  };

  /** `onFail` closes a handle whose write failed (the peer is gone); it runs after the batch was written. */
  constructor(io: BatchIo, onFail: (h: FdHandle, err: number) => void, capacity = 4096) {
    this.io = io;
    this.onFail = onFail;
    this.fds = new Int32Array(capacity);
    this.entries = new Array<string | Uint8Array | number>(capacity).fill(0);
    this.data = new Array<string | Uint8Array>(capacity).fill('');
    this.handles = new Array<FdHandle | undefined>(capacity).fill(undefined);
    this.results = new Int32Array(capacity);
  }

  /** Writes `data` to `h` (now or at the end of this task); false only when an immediate write failed. */
  write(h: FdHandle, data: string | Uint8Array): boolean {
    if (queuedBytes(h) > 0) {
      this.flush();
      return writeRaw(h, data) === 0;
    }
    if (this.n === this.fds.length) this.flush();
    const i = this.n++;
    this.fds[i] = h.fdn;
    this.entries[i] = i > 0 && data === this.data[i - 1] ? 0 : data;
    this.data[i] = data;
    this.handles[i] = h;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushTask);
    }
    return true;
  }

  /** Writes everything gathered so far. Safe to call at any time (before a close, a hand-off, a Buffer write). */
  flush(): void {
    const count = this.n;
    if (count === 0) return;
    this.n = 0;
    this.io.writeStrings(this.fds, this.entries, count, this.results);
    let failed: [FdHandle, number][] | undefined;
    for (let i = 0; i < count; i++) {
      const r = this.results[i]!;
      const data = this.data[i]!;
      const h = this.handles[i]!;
      this.data[i] = '';
      this.entries[i] = 0;
      this.handles[i] = undefined;
      if (r === 0) continue;
      let err = 0;
      if (r > 0) {
        // a partial write: the rest (the last r bytes) waits in libuv, and so will this handle's later writes. r counts
        // from the whole string's UTF-8 as C wrote it, which is what Buffer.from gives (a lone surrogate is U+FFFD in
        // both); C never writes a string cut short (batch-io.c, UTF8_MAX), so the two lengths agree
        const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        err = writeRaw(h, bytes.subarray(bytes.length - r));
      } else if (r === EAGAIN) {
        err = writeRaw(h, data);
      } else {
        err = r;
      }
      if (err !== 0) (failed ??= []).push([h, err]);
    }
    if (failed) for (const [h, err] of failed) this.onFail(h, err);
  }
}
