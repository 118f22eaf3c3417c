/**
 * Node's own libuv TCP bindings, typed. `net.Socket` is a Duplex stream with a few KB of JS state per connection;
 * these handles are what it wraps, so a server or client that drives them directly pays only the handle
 * (about half a KB of C++ and a small JS object) per connection.
 *
 * `process.binding` is deprecated (DEP0111) but only warns under --pending-deprecation; these are the same
 * `tcp_wrap` / `stream_wrap` bindings lib/net.js uses, and their shape has been stable since Node 12. It is absent
 * under the permission model (`--permission`), so nothing here touches it before a handle is asked for.
 */
import { EXIT, LabError } from '../errors.ts';

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

// Assigned by loadTcpBindings() on first use, not at import: importing this module must work where the bindings
// are missing (under --permission process.binding throws ERR_ACCESS_DENIED), so that code paths that never make a
// handle (the net engine, the supervisor's port check) still run. ES module exports are live bindings: the
// modules that import these see the values once loaded. Only functions that create handles call loadTcpBindings();
// everything else runs on a handle, which cannot exist before the bindings were loaded.
export let TCP: TcpWrapBinding['TCP'];
export let TCPConnectWrap: TcpWrapBinding['TCPConnectWrap'];
export let TCP_CONSTANTS: TcpWrapBinding['constants'];
export let WriteWrap: StreamWrapBinding['WriteWrap'];
export let ShutdownWrap: StreamWrapBinding['ShutdownWrap'];
export let streamBaseState: Int32Array;
export let kReadBytesOrError: number;
export let kArrayBufferOffset: number;
export let kLastWriteWasAsync: number;

let loaded = false;
let failure: LabError | undefined;

/**
 * Loads Node's `tcp_wrap` and `stream_wrap` bindings once (later calls return at once). Throws LabError
 * LAB_ERR_NO_TCP_WRAP, with a hint, when this Node does not give them (e.g. under --permission).
 */
export function loadTcpBindings(): void {
  if (loaded) return;
  if (failure !== undefined) throw failure;
  try {
    const bindingOf = (name: string) => (process as unknown as ProcessWithBinding).binding(name);
    const tcp = bindingOf('tcp_wrap') as TcpWrapBinding;
    const stream = bindingOf('stream_wrap') as StreamWrapBinding;
    if (typeof tcp?.TCP !== 'function' || typeof stream?.WriteWrap !== 'function') throw new Error('tcp_wrap or stream_wrap has an unknown shape');
    TCP = tcp.TCP;
    TCPConnectWrap = tcp.TCPConnectWrap;
    TCP_CONSTANTS = tcp.constants;
    WriteWrap = stream.WriteWrap;
    ShutdownWrap = stream.ShutdownWrap;
    streamBaseState = stream.streamBaseState;
    kReadBytesOrError = stream.kReadBytesOrError;
    kArrayBufferOffset = stream.kArrayBufferOffset;
    kLastWriteWasAsync = stream.kLastWriteWasAsync;
    loaded = true;
  } catch (err) {
    const why = (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
    failure = new LabError('LAB_ERR_NO_TCP_WRAP', `the raw TCP layer needs process.binding('tcp_wrap'), which this Node refuses (${why})`, {
      exitCode: EXIT.preflight,
      hint: 'run without --permission, or use the net.Socket path: server --engine net (the load generator falls back by itself)',
      cause: err,
    });
    throw failure;
  }
}

/** Whether the raw TCP layer can run here (loads the bindings on the first call). */
export function tcpBindingsAvailable(): boolean {
  try {
    loadTcpBindings();
    return true;
  } catch {
    return false;
  }
}

/** libuv's end-of-file status as a read result (negative errno space). */
export const UV_EOF = -4095;
