/**
 * Client additions to the raw TCP layer, for a load generator holding tens of thousands of connections:
 * - `startConnect` takes a handle the caller made (so it can tag it with its own slot number and abort a pending
 *   connect by closing it) and one shared completion function (no closure per connection);
 * - `SharedBufferReader` reads every handle into ONE user buffer (libuv `useUserBuffer`), so a read allocates
 *   nothing: the bytes are parsed in place before the next read overwrites them.
 */
import { isIPv6 } from 'node:net';
import { loadTcpBindings, TCP, TCP_CONSTANTS, TCPConnectWrap, streamBaseState, kReadBytesOrError, UV_EOF, type TcpHandle } from './bindings.ts';

/** `this` is the connect request; `status` is 0 or a negative errno. The handle stays open on failure: close it. */
export type ConnectComplete = (status: number, handle: TcpHandle) => void;

function onConnectComplete(this: Record<string, unknown>, status: number, handle: TcpHandle) {
  (this.done as ConnectComplete)(status, handle);
}

/** A fresh client handle (not connected); throws LabError LAB_ERR_NO_TCP_WRAP where the bindings are missing. */
export function newClientHandle(): TcpHandle {
  loadTcpBindings();
  return new TCP(TCP_CONSTANTS.SOCKET);
}

/**
 * Binds `handle` to `localAddress:localPort` when given (port 0: the kernel picks) and starts connecting to
 * `host:port`. Returns 0 when started (`done` follows), else the negative errno of bind or connect (no callback;
 * the caller closes the handle).
 */
export function startConnect(
  handle: TcpHandle,
  host: string,
  port: number,
  localAddress: string | undefined,
  localPort: number,
  done: ConnectComplete,
): number {
  const v6 = isIPv6(host);
  if (localAddress !== undefined) {
    const err = v6 ? handle.bind6(localAddress, localPort, 0) : handle.bind(localAddress, localPort, 0);
    if (err !== 0) return err;
  }
  const req = new TCPConnectWrap();
  req.oncomplete = onConnectComplete;
  req.done = done;
  req.address = host;
  req.port = port;
  return v6 ? handle.connect6(req, host, port) : handle.connect(req, host, port);
}

/** Bytes read on `handle` are `buf[0, n)`, valid only until this callback returns. */
export type OnSharedRead = (handle: TcpHandle, buf: Buffer, n: number) => void;
/** The peer ended (`err` 0) or the read failed (negative errno); reading has stopped. */
export type OnReadEnd = (handle: TcpHandle, err: number) => void;

export class SharedBufferReader {
  readonly buffer: Buffer;
  private readonly onread: (this: TcpHandle) => void;

  constructor(onData: OnSharedRead, onEnd: OnReadEnd, size = 64 * 1024) {
    const buffer = Buffer.allocUnsafe(size);
    this.buffer = buffer;
    this.onread = function onread(this: TcpHandle) {
      const nread = streamBaseState[kReadBytesOrError]!;
      if (nread > 0) onData(this, buffer, nread);
      else if (nread < 0) {
        this.readStop();
        onEnd(this, nread === UV_EOF ? 0 : nread);
      }
    };
  }

  /** Starts reading `handle` into the shared buffer; returns 0 or a negative errno. */
  start(handle: TcpHandle): number {
    (handle.useUserBuffer as (this: TcpHandle, b: Uint8Array) => void).call(handle, this.buffer);
    handle.onread = this.onread;
    return handle.readStart();
  }
}
