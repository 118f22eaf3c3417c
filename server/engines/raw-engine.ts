/**
 * The default engine: libuv TCP handles driven directly (shared/raw-tcp), no net.Socket, no stream machinery.
 * A held stream costs the kernel socket, the libuv handle and a handful of fields on the handle's JS object.
 */
import { closeRaw, errName, listenRaw, queuedBytes, RawReader, shutdownRaw, type RawListener, writeRaw } from '../../shared/raw-tcp/raw-tcp.ts';
import { batchIo } from '../../shared/raw-tcp/batch-io.ts';
import { BatchWriter, type FdHandle } from '../../shared/raw-tcp/batch-writer.ts';
import type { Engine, EngineOptions } from './engine.ts';
import { LeanHttp, type ConnOps, type LeanConn } from './lean-http.ts';

type RawConn = FdHandle & LeanConn;

function closeGracefully(h: RawConn): void {
  if (shutdownRaw(h, () => closeRaw(h)) !== 0) closeRaw(h);
}

/**
 * The handle inside a net.Socket the supervisor handed back, taken from it: the socket object keeps nothing. Its
 * constructor already started reading (into net's onread): stopped here, restarted by the raw reader before any
 * data can arrive (both happen in this turn).
 */
function detach(socket: unknown): RawConn | undefined {
  const s = socket as { _handle?: RawConn | null };
  const h = s._handle ?? undefined;
  s._handle = null;
  h?.readStop();
  return h;
}

export function createRawEngine(options: EngineOptions): Engine {
  // A heartbeat turn's or a broadcast's writes cross into C++ once (shared/raw-tcp/batch-writer.ts) where the
  // batch-io addon can be built; else one writeRaw per write.
  const io = batchIo();
  const writer = io === undefined ? undefined : new BatchWriter(io, (h) => lean.drop(h as RawConn, 'error'));
  const ops: ConnOps<RawConn> = {
    write: writer === undefined ? (h, data) => writeRaw(h, data) === 0 : (h, data) => writer.write(h, data),
    queued: queuedBytes,
    close(h, graceful) {
      writer?.flush();
      if (graceful) closeGracefully(h);
      else closeRaw(h);
    },
    handOff(h, bytes) {
      writer?.flush();
      h.readStop();
      options.send({ t: 'api', data: bytes.toString('base64') }, h, () => closeRaw(h));
    },
  };
  const lean = new LeanHttp<RawConn>(ops, options);
  const reader = new RawReader(
    (h, data) => lean.data(h as RawConn, data),
    (h, err) => lean.ended(h as RawConn, err),
    { sharedBufferBytes: 64 * 1024 },
  );
  const listeners: RawListener[] = [];
  return {
    hub: lean.hub,
    async listen() {
      for (const host of options.hosts) {
        listeners.push(
          listenRaw({
            host,
            port: options.port,
            backlog: options.backlog,
            reusePort: true,
            onConnection(handle) {
              const h = handle as RawConn;
              h.fdn = h.fd; // first, so every connection object keeps one field order (one hidden class)
              if (!lean.accepted(h)) return closeRaw(h);
              const err = reader.start(h);
              if (err !== 0) lean.ended(h, err);
            },
            onAcceptError(err) {
              options.counters.reject(errName(err) === 'EMFILE' ? 503 : 500);
            },
          }),
        );
      }
    },
    adopt(socket, bytes) {
      const h = detach(socket);
      if (h === undefined) return;
      h.fdn = h.fd;
      if (!lean.adopt(h, Buffer.alloc(0))) return closeRaw(h);
      const err = reader.start(h);
      if (err !== 0) return lean.ended(h, err);
      lean.data(h, bytes);
    },
    async stopAccepting() {
      lean.stop();
      await Promise.all(listeners.map((l) => l.close()));
    },
    connections: () => lean.open,
  };
}
