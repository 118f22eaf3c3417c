/**
 * The lean io: each connection is a raw libuv TCP handle (shared/raw-tcp) and every read lands in one shared buffer
 * (libuv's useUserBuffer), so a connection costs the handle and nothing else: 1.26-1.32 KB of user space with Node's
 * defaults, 0.67 KB with --max-semi-space-size=1 (which --procs children always get; README's load generator table).
 * Where the batch-io addon loads, every ready connection is read once per wake-up and handed to JS in one call
 * (shared/raw-tcp/batch-reader.ts: the load generator's user CPU per chunk fell from 1.44-1.48 µs to 0.34-0.54 at
 * 100,000 chunks/s); else Node's per-connection read callback.
 * Needs `process.binding('tcp_wrap')`: load this module only after `tcpBindingsAvailable()` said yes.
 */
import { batchIo } from '../../shared/raw-tcp/batch-io.ts';
import { BatchReader, SharedBufferSlotReader, type SlotReader } from '../../shared/raw-tcp/batch-reader.ts';
import { newClientHandle, startConnect } from '../../shared/raw-tcp/client-connect.ts';
import { writeRaw, type TcpHandle } from '../../shared/raw-tcp/raw-tcp.ts';
import type { ClientIo, IoListener } from './client-io.ts';

export class RawIo implements ClientIo {
  readonly name = 'raw' as const;
  private readonly handles: Array<TcpHandle | undefined>;
  private readonly reader: SlotReader;
  private readonly connectDone: (status: number, h: TcpHandle) => void;

  constructor(capacity: number, listener: IoListener) {
    this.handles = new Array<TcpHandle | undefined>(capacity).fill(undefined);
    const onData = (slot: number, buf: Buffer, start: number, end: number) => listener.onData(slot, buf, end - start, start);
    const onEnd = (slot: number, err: number) => listener.onEnd(slot, err);
    const io = batchIo();
    this.reader = io === undefined ? new SharedBufferSlotReader(onData, onEnd) : new BatchReader(io, onData, onEnd);
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
    return this.reader.start(this.handles[slot]!, slot);
  }

  write(slot: number, data: string | Uint8Array): number {
    const h = this.handles[slot];
    return h === undefined ? -9 /* EBADF */ : writeRaw(h, data);
  }

  close(slot: number): void {
    const h = this.handles[slot];
    if (h === undefined) return;
    this.handles[slot] = undefined;
    this.reader.stop(h);
    h.close();
  }
}
