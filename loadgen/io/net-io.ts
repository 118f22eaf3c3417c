/**
 * The portable io: each connection is a `net.Socket`, for runtimes where the raw bindings are denied (Node's
 * --permission, DEP0111). Kept lean the way net allows: one `onread` buffer shared by every socket (no Buffer and no
 * stream queue per read), listeners that are the same function objects for every socket (the slot rides on the
 * socket), no 'data' listener, no timers. Measured (loadgen/bench/memory-per-connection.ts --io net, 15,000 held): 7.1 KB per
 * connection against 5.1-5.4 KB for raw; the 1.8 KB more is user space (3.1 KB against 1.3 KB): the socket and its two
 * stream states.
 */
import net from 'node:net';
import type { ClientIo, IoListener } from './client-io.ts';

type SlotSocket = net.Socket & { slot: number };

const SHARED_READ_BYTES = 64 * 1024;

export class NetIo implements ClientIo {
  readonly name = 'net' as const;
  private readonly sockets: Array<SlotSocket | undefined>;
  /** 1 once the slot's socket connected (a flag here, not a property added to every socket). */
  private readonly up: Uint8Array;
  private readonly onread: net.OnReadOpts;
  private readonly onConnect: (this: SlotSocket) => void;
  private readonly onError: (this: SlotSocket, err: NodeJS.ErrnoException) => void;
  private readonly onEof: (this: SlotSocket) => void;

  constructor(capacity: number, listener: IoListener) {
    this.sockets = new Array<SlotSocket | undefined>(capacity).fill(undefined);
    this.up = new Uint8Array(capacity);
    const sockets = this.sockets;
    const up = this.up;
    const buffer = Buffer.allocUnsafe(SHARED_READ_BYTES);
    this.onread = {
      buffer,
      callback(this: SlotSocket, n: number, buf: Uint8Array) {
        if (sockets[this.slot] === this) listener.onData(this.slot, buf as Buffer, n);
        return true;
      },
    } as net.OnReadOpts;
    const onConnect = function onConnect(this: SlotSocket) {
      this.off('connect', onConnect); // one listener fewer on every held socket
      if (sockets[this.slot] !== this) return;
      up[this.slot] = 1;
      listener.onConnected(this.slot, 0);
    };
    this.onConnect = onConnect;
    this.onError = function onError(err) {
      if (sockets[this.slot] !== this) return;
      const errno = typeof err.errno === 'number' && err.errno < 0 ? err.errno : -5; /* EIO */
      if (up[this.slot] === 1) listener.onEnd(this.slot, errno);
      else {
        sockets[this.slot] = undefined;
        this.destroy();
        listener.onConnected(this.slot, errno);
      }
    };
    this.onEof = function onEof() {
      if (sockets[this.slot] === this) listener.onEnd(this.slot, 0);
    };
  }

  connect(slot: number, address: string, port: number, localAddress: string | undefined, localPort: number): number {
    const s = new net.Socket({ onread: this.onread }) as SlotSocket;
    s.slot = slot;
    this.up[slot] = 0;
    s.on('connect', this.onConnect);
    s.on('error', this.onError);
    s.on('end', this.onEof);
    this.sockets[slot] = s;
    // Bind and connect failures (a taken 4-tuple: EADDRNOTAVAIL) arrive as an 'error' on the next tick.
    s.connect(localAddress === undefined ? { host: address, port } : { host: address, port, localAddress, localPort });
    return 0;
  }

  startReading(_slot: number): number {
    return 0; // net reads as soon as it is connected (into the shared onread buffer)
  }

  write(slot: number, data: string | Uint8Array): number {
    const s = this.sockets[slot];
    if (s === undefined || s.destroyed) return -32; // EPIPE
    if (typeof data === 'string') s.write(data, 'latin1');
    else s.write(data);
    return 0;
  }

  close(slot: number): void {
    const s = this.sockets[slot];
    if (s === undefined) return;
    this.sockets[slot] = undefined;
    s.destroy();
  }
}
