/**
 * Reading, writing and closing a raw TCP handle, the way lib/internal/stream_base_commons.js does it for net.Socket
 * but without the stream state. Callbacks are shared across connections (one function per reader, `this` is the
 * handle), so a connection costs no closures.
 */
import { getSystemErrorName } from 'node:util';
import {
  kArrayBufferOffset,
  kLastWriteWasAsync,
  kReadBytesOrError,
  ShutdownWrap,
  streamBaseState,
  type TcpHandle,
  UV_EOF,
  WriteWrap,
} from './bindings.ts';

/** Called with each chunk read; `data` is a fresh Buffer the callee may keep. */
export type OnData = (handle: TcpHandle, data: Buffer) => void;
/** Called once when the peer ends (`err` is 0 for a clean EOF) or reading fails (negative errno). */
export type OnEnd = (handle: TcpHandle, err: number) => void;

/**
 * One reader serves any number of handles: `start(handle)` points the handle's `onread` at a function shared by
 * every handle this reader serves.
 */
export class RawReader {
  readonly onread: (this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) => void;
  private readonly shared: Buffer | undefined;

  /**
   * With `sharedBufferBytes`, every handle this reader serves reads into one buffer (libuv's useUserBuffer, as
   * net's `onread.buffer` option does) and `onData` gets a copy of just the bytes read. Without it, libuv allocates
   * 64 KB per read and shrinks it: churn that leaves malloc fragments behind when many connections read once.
   */
  constructor(onData: OnData, onEnd: OnEnd, options: { sharedBufferBytes?: number } = {}) {
    const shared = options.sharedBufferBytes ? Buffer.allocUnsafeSlow(options.sharedBufferBytes) : undefined;
    this.shared = shared;
    this.onread = function onread(this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) {
      const nread = streamBaseState[kReadBytesOrError]!;
      if (nread > 0) {
        if (shared !== undefined) onData(this, Buffer.from(shared.subarray(0, nread)));
        else if (arrayBuffer !== undefined) onData(this, Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset]!, nread));
      } else if (nread < 0) {
        this.readStop();
        onEnd(this, nread === UV_EOF ? 0 : nread);
      }
    };
  }

  /** Starts reading; returns 0 or a negative errno. */
  start(handle: TcpHandle): number {
    handle.onread = this.onread;
    if (this.shared !== undefined) handle.useUserBuffer(this.shared);
    return handle.readStart();
  }
}

type WriteCallback = (err: number) => void;
type WriteReq = Record<string, unknown>;

/**
 * Handles holding a write libuv could not finish at once (it went async): few, usually none. `queuedBytes` asks
 * libuv only about these, so the common case costs no call into C++ (reading `writeQueueSize` on every write was
 * 1.8% of a worker's CPU at 100,000 chunks/s, perf).
 */
const queuedHandles = new Set<TcpHandle>();

/**
 * The request object of the next write. A write the kernel takes at once never reaches libuv's queue, and Node's
 * StreamBase then leaves the request object untouched (stream_base.cc: WriteString/Write return before
 * CreateWriteWrap), so one object serves every such write; only a write that went async keeps its object, and the
 * next write makes a new one. Creating a WriteWrap per write (FunctionTemplate instantiation) cost more than the
 * write's own JS.
 */
let spare: WriteReq | undefined;

function onWriteComplete(this: WriteReq, status: number, handle: TcpHandle) {
  const cb = this.callback as WriteCallback | undefined;
  this.buffer = null;
  this.callback = undefined;
  // after close the getter answers undefined: forget the handle then too
  if (!(handle.writeQueueSize > 0)) queuedHandles.delete(handle);
  if (cb) cb(status);
}

function newReq(): WriteReq {
  const req = new WriteWrap();
  req.oncomplete = onWriteComplete;
  req.callback = undefined;
  req.buffer = null;
  return req;
}

/**
 * Writes a string (UTF-8) or bytes. Returns 0 when the write was accepted (written at once, or queued by libuv:
 * see `queuedBytes`), else a negative errno (the peer is gone: close the handle).
 * `done`, when given, runs once the bytes left the process (at once, synchronously, when the kernel took them all).
 */
export function writeRaw(handle: TcpHandle, data: string | Uint8Array, done?: WriteCallback): number {
  const req = spare ?? newReq();
  req.callback = done;
  const err = typeof data === 'string' ? handle.writeUtf8String(req, data) : handle.writeBuffer(req, data);
  if (err !== 0) {
    spare = undefined; // libuv may have started with it: never reuse
    return err;
  }
  if (streamBaseState[kLastWriteWasAsync] === 0) {
    req.callback = undefined;
    spare = req;
    if (done) done(0);
    return 0;
  }
  spare = undefined; // libuv holds this one until the bytes leave
  if (typeof data !== 'string') req.buffer = data; // keep the bytes alive while libuv holds them
  queuedHandles.add(handle);
  return 0;
}

/** Bytes written to `handle` that libuv still holds (0 when every write so far went out at once). */
export function queuedBytes(handle: TcpHandle): number {
  if (queuedHandles.size === 0 || !queuedHandles.has(handle)) return 0;
  return handle.writeQueueSize;
}

function onShutdownComplete(this: Record<string, unknown>, status: number) {
  const cb = this.callback as WriteCallback | undefined;
  if (cb) cb(status);
}

/** Half-closes (FIN after queued writes). `done` runs when the FIN was sent or failed. */
export function shutdownRaw(handle: TcpHandle, done?: WriteCallback): number {
  const req = new ShutdownWrap();
  req.handle = handle;
  req.oncomplete = onShutdownComplete;
  req.callback = done;
  return handle.shutdown(req);
}

/** Closes the handle (idempotent for the caller's purposes: guard with your own flag if called from many paths). */
export function closeRaw(handle: TcpHandle, done?: () => void): void {
  if (queuedHandles.size > 0) queuedHandles.delete(handle);
  handle.close(done);
}

/** `-104` -> `ECONNRESET`; 0 -> `EOF`. */
export function errName(err: number): string {
  if (err === 0 || err === UV_EOF) return 'EOF';
  try {
    return getSystemErrorName(err);
  } catch {
    return `E${-err}`;
  }
}
