/**
 * Node's own libuv TCP bindings, typed. `net.Socket` is a Duplex stream with a few KB of JS state per connection;
 * these handles are what it wraps, so a server or client that drives them directly pays only the handle
 * (about half a KB of C++ and a small JS object) per connection.
 *
 * `process.binding` is deprecated (DEP0111) but only warns under --pending-deprecation; these are the same
 * `tcp_wrap` / `stream_wrap` bindings lib/net.js uses, and their shape has been stable since Node 12.
 */

/** The result object `getsockname` / `getpeername` fill in. */
export interface SockAddr {
  address?: string;
  family?: string;
  port?: number;
}

/** A libuv stream handle as exposed by node::LibuvStreamWrap (methods return 0 or a negative errno). */
export interface TcpHandle {
  /** Must be a function (the setter throws a fatal error otherwise): never assign null. */
  onread: (this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) => void;
  onconnection: (this: TcpHandle, err: number, client: TcpHandle | undefined) => void;
  readonly writeQueueSize: number;
  readonly fd: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  bind(address: string, port: number, flags?: number): number;
  bind6(address: string, port: number, flags?: number): number;
  listen(backlog: number): number;
  connect(req: unknown, address: string, port: number): number;
  connect6(req: unknown, address: string, port: number): number;
  getsockname(out: SockAddr): number;
  getpeername(out: SockAddr): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  shutdown(req: unknown): number;
  writeBuffer(req: unknown, data: Uint8Array): number;
  writeLatin1String(req: unknown, data: string): number;
  writeUtf8String(req: unknown, data: string): number;
  writev(req: unknown, chunks: unknown[], allBuffers: boolean): number;
  close(callback?: () => void): void;
  reset(callback?: () => void): number;
  ref(): void;
  unref(): void;
  hasRef(): boolean;
  /** Per-connection slots the users of this module may set (kept small: a few numbers and strings). */
  [key: string]: unknown;
}

interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => Record<string, unknown>;
  constants: { SOCKET: number; SERVER: number; UV_TCP_IPV6ONLY: number; UV_TCP_REUSEPORT: number };
}

interface StreamWrapBinding {
  WriteWrap: new () => Record<string, unknown>;
  ShutdownWrap: new () => Record<string, unknown>;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}

type ProcessWithBinding = { binding(name: string): unknown };
const bindingOf = (name: string) => (process as unknown as ProcessWithBinding).binding(name);

// Read once, without throwing: under --permission process.binding throws ERR_ACCESS_DENIED, and a runtime may drop
// DEP0111 altogether. Then every export below is undefined; callers ask tcpBindingsAvailable() before using them.
let tcp: TcpWrapBinding | undefined;
let stream: StreamWrapBinding | undefined;
let problem: string | undefined;
try {
  tcp = bindingOf('tcp_wrap') as TcpWrapBinding;
  stream = bindingOf('stream_wrap') as StreamWrapBinding;
} catch (err) {
  tcp = stream = undefined;
  problem = `${(err as NodeJS.ErrnoException).code ?? 'ERR'}: ${(err as Error).message}`;
}

/** Whether Node's raw TCP bindings can be used here (false under --permission, where process.binding is denied). */
export function tcpBindingsAvailable(): boolean {
  return tcp !== undefined && stream !== undefined;
}

/** Why the raw TCP bindings are unavailable (undefined when they are available). */
export function tcpBindingsProblem(): string | undefined {
  return problem;
}

export const TCP = tcp?.TCP as TcpWrapBinding['TCP'];
export const TCPConnectWrap = tcp?.TCPConnectWrap as TcpWrapBinding['TCPConnectWrap'];
export const TCP_CONSTANTS = tcp?.constants as TcpWrapBinding['constants'];
export const WriteWrap = stream?.WriteWrap as StreamWrapBinding['WriteWrap'];
export const ShutdownWrap = stream?.ShutdownWrap as StreamWrapBinding['ShutdownWrap'];
export const streamBaseState = stream?.streamBaseState as Int32Array;
export const kReadBytesOrError = stream?.kReadBytesOrError as number;
export const kArrayBufferOffset = stream?.kArrayBufferOffset as number;
export const kLastWriteWasAsync = stream?.kLastWriteWasAsync as number;

/** libuv's end-of-file status as a read result (negative errno space). */
export const UV_EOF = -4095;
