/**
 * The lean io: each connection is a raw libuv TCP handle (shared/raw-tcp) and every read lands in one shared buffer
 * (libuv's useUserBuffer), so a connection costs the handle and nothing else (about 0.7 KB of user space, README).
 * Needs `process.binding('tcp_wrap')`: load this module only after `tcpBindingsAvailable()` said yes.
 */
import { newClientHandle, SharedBufferReader, startConnect } from '../../shared/raw-tcp/client-connect.ts';
import { writeRaw, type TcpHandle } from '../../shared/raw-tcp/raw-tcp.ts';
import type { ClientIo, IoListener } from './client-io.ts';

export class RawIo implements ClientIo {
  readonly name = 'raw' as const;
  private readonly handles: Array<TcpHandle | undefined>;
  private readonly reader: SharedBufferReader;
  private readonly connectDone: (status: number, h: TcpHandle) => void;

  constructor(capacity: number, listener: IoListener) {
    this.handles = new Array<TcpHandle | undefined>(capacity).fill(undefined);
    this.reader = new SharedBufferReader(
      (h, buf, len) => listener.onData(h.slot as number, buf, len),
      (h, err) => listener.onEnd(h.slot as number, err),
    );
    this.connectDone = (status, h) => {
      const slot = h.slot as number;
      if (this.handles[slot] !== h) return; // closed while connecting
      if (status !== 0) this.close(slot);
      listener.onConnected(slot, status);
    };
  }

  connect(slot: number, address: string, port: number, localAddress: string | undefined, localPort: number): number {
    const h = newClientHandle();
    h.slot = slot;
    const err = startConnect(h, address, port, localAddress, localPort, this.connectDone);
    if (err !== 0) {
      h.close();
      return err;
    }
    this.handles[slot] = h;
    return 0;
  }

  startReading(slot: number): number {
    return this.reader.start(this.handles[slot]!);
  }

  write(slot: number, data: string | Uint8Array): number {
    const h = this.handles[slot];
    return h === undefined ? -9 /* EBADF */ : writeRaw(h, data);
  }

  close(slot: number): void {
    const h = this.handles[slot];
    if (h === undefined) return;
    this.handles[slot] = undefined;
    h.readStop();
    h.close();
  }
}
