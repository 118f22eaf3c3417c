/**
 * The default engine: libuv TCP handles driven directly (shared/raw-tcp), no net.Socket, no stream machinery.
 * A held stream costs the kernel socket, the libuv handle and a handful of fields on the handle's JS object.
 */
import { closeRaw, errName, listenRaw, RawReader, shutdownRaw, type RawListener, type TcpHandle, writeRaw } from '../../shared/raw-tcp/raw-tcp.ts';
import type { Engine, EngineOptions } from './engine.ts';
import { LeanHttp, type ConnOps, type LeanConn } from './lean-http.ts';

type RawConn = TcpHandle & LeanConn;

function closeGracefully(h: RawConn): void {
  if (shutdownRaw(h, () => closeRaw(h)) !== 0) closeRaw(h);
}

export function createRawEngine(options: EngineOptions): Engine {
  const ops: ConnOps<RawConn> = {
    write: (h, data) => writeRaw(h, data) === 0,
    queued: (h) => h.writeQueueSize,
    close: (h, graceful) => (graceful ? closeGracefully(h) : closeRaw(h)),
    handOff(h, bytes) {
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
  let listener: RawListener | undefined;
  return {
    hub: lean.hub,
    async listen() {
      listener = listenRaw({
        host: options.host,
        port: options.port,
        backlog: options.backlog,
        reusePort: true,
        onConnection(handle) {
          const h = handle as RawConn;
          if (!lean.accepted(h)) return closeRaw(h);
          const err = reader.start(h);
          if (err !== 0) lean.ended(h, err);
        },
        onAcceptError(err) {
          options.counters.reject(errName(err) === 'EMFILE' ? 503 : 500);
        },
      });
    },
    async stopAccepting() {
      lean.stop();
      await listener?.close();
    },
    connections: () => lean.open,
  };
}
