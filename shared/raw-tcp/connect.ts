/**
 * Opening a raw TCP connection, optionally from a chosen local address and port. Choosing the local port yourself
 * (instead of binding port 0) matters at scale: with port 0 the kernel searches its ephemeral range on every
 * connect (about 400 connects/s here against 4,500 unbound); a load generator that walks its own ports per
 * source address keeps the fast path.
 */
import { isIPv6 } from 'node:net';
import { loadTcpBindings, TCP, TCP_CONSTANTS, TCPConnectWrap, type TcpHandle } from './bindings.ts';

export interface RawConnectOptions {
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number; // with localAddress; 0 or absent lets the kernel choose
}

/** Called once: `err` 0 and the handle on success, else a negative errno (the handle is already closed). */
export type OnConnect = (err: number, handle: TcpHandle) => void;

function afterConnect(this: Record<string, unknown>, status: number, handle: TcpHandle) {
  const cb = this.callback as OnConnect;
  if (status !== 0) handle.close();
  cb(status, handle);
}

/**
 * Starts a connection. Returns 0 when the attempt started (the callback follows), or a negative errno when it
 * failed at once (bind: EADDRINUSE / EADDRNOTAVAIL; connect: ...), in which case the callback is not called.
 */
export function connectRaw(options: RawConnectOptions, onConnect: OnConnect): number {
  loadTcpBindings();
  const handle = new TCP(TCP_CONSTANTS.SOCKET);
  const v6 = isIPv6(options.host);
  if (options.localAddress !== undefined) {
    const lp = options.localPort ?? 0;
    const err = v6 ? handle.bind6(options.localAddress, lp, 0) : handle.bind(options.localAddress, lp, 0);
    if (err !== 0) {
      handle.close();
      return err;
    }
  }
  const req = new TCPConnectWrap();
  req.oncomplete = afterConnect;
  req.callback = onConnect;
  req.address = options.host;
  req.port = options.port;
  const err = v6 ? handle.connect6(req, options.host, options.port) : handle.connect(req, options.host, options.port);
  if (err !== 0) {
    handle.close();
    return err;
  }
  return 0;
}
