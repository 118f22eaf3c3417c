/**
 * A listening TCP socket on a raw handle. With `reusePort`, several processes bind the same address and port and
 * the kernel spreads new connections over them (SO_REUSEPORT), which is how the server's workers share one port.
 */
import { isIPv6 } from 'node:net';
import { loadTcpBindings, TCP, TCP_CONSTANTS, type TcpHandle } from './bindings.ts';
import { errName } from './stream-ops.ts';

export interface RawListenOptions {
  host: string;
  port: number; // 0: the kernel picks one (read it back from `port`)
  backlog?: number; // default 511, as net.Server
  reusePort?: boolean;
  /** Called for each accepted connection with its handle (not yet reading). */
  onConnection(handle: TcpHandle): void;
  /** Called when accept fails (EMFILE, ENFILE, ...): the listener keeps going. */
  onAcceptError?(err: number): void;
}

export interface RawListener {
  readonly host: string;
  readonly port: number;
  readonly handle: TcpHandle;
  close(): Promise<void>;
}

/** Thrown when bind or listen fails; `code` is the errno name (EADDRINUSE, EACCES, ...). */
export class RawListenError extends Error {
  readonly code: string;
  constructor(op: string, err: number, host: string, port: number) {
    super(`${op} ${host}:${port} failed: ${errName(err)}`);
    this.code = errName(err);
  }
}

/**
 * Binds a server handle (not yet listening); throws RawListenError, or LabError LAB_ERR_NO_TCP_WRAP. libuv defers
 * some bind errors (EADDRINUSE) to listen(); a handle whose bind failed that way reads port 0 in `boundPort`.
 */
export function bindRaw(host: string, port: number, reusePort: boolean): TcpHandle {
  loadTcpBindings();
  const handle = new TCP(TCP_CONSTANTS.SERVER);
  const flags = reusePort ? TCP_CONSTANTS.UV_TCP_REUSEPORT : 0;
  const err = isIPv6(host) ? handle.bind6(host, port, flags) : handle.bind(host, port, flags);
  if (err !== 0) {
    handle.close();
    throw new RawListenError('bind', err, host, port);
  }
  return handle;
}

/** The port a bound handle got (useful after binding port 0). */
export function boundPort(handle: TcpHandle): number {
  const out: { port?: number } = {};
  handle.getsockname(out);
  return out.port ?? 0;
}

/** Binds and listens on host:port at once (throws RawListenError on bind/listen failure). */
export function listenRaw(options: RawListenOptions): RawListener {
  const handle = bindRaw(options.host, options.port, options.reusePort ?? false);
  const port = boundPort(handle);
  handle.onconnection = function onconnection(err: number, client: TcpHandle | undefined) {
    if (err !== 0 || client === undefined) {
      options.onAcceptError?.(err);
      return;
    }
    options.onConnection(client);
  };
  const err = handle.listen(options.backlog ?? 511);
  if (err !== 0) {
    handle.close();
    throw new RawListenError('listen', err, options.host, port);
  }
  let closed: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    handle,
    close() {
      closed ??= new Promise<void>((resolve) => handle.close(resolve));
      return closed;
    },
  };
}
