/**
 * The `net` engine: the same lean HTTP state machine as the raw engine, on net.Socket. It exists to measure what
 * the stream machinery of net.Socket costs per held connection next to raw handles, and it is the engine that runs
 * where the raw TCP bindings are refused (node --permission).
 */
import net from 'node:net';
import type { Engine, EngineOptions } from './engine.ts';
import { LeanHttp, type ConnOps, type LeanConn } from './lean-http.ts';

type NetConn = net.Socket & LeanConn;

export function createNetEngine(options: EngineOptions): Engine {
  const ops: ConnOps<NetConn> = {
    write: (s, data) => {
      if (s.destroyed) return false;
      s.write(data);
      return true;
    },
    queued: (s) => s.writableLength,
    close: (s, graceful) => (graceful ? s.end() : s.destroy()),
    handOff(s, bytes) {
      // stop reading now: bytes net.Socket buffered but did not emit would be lost with the hand-over
      s.pause();
      (s as unknown as { _handle?: { readStop(): number } })._handle?.readStop();
      const parts = [bytes];
      for (let more = s.read() as Buffer | null; more !== null; more = s.read() as Buffer | null) parts.push(more);
      options.send({ t: 'api', data: Buffer.concat(parts).toString('base64') }, s);
    },
  };
  const lean = new LeanHttp<NetConn>(ops, options);
  // shared listeners (`this` is the socket): no closures per connection
  function onData(this: NetConn, data: Buffer) {
    lean.data(this, data);
  }
  function onEnd(this: NetConn) {
    lean.ended(this, 0);
  }
  function onError(this: NetConn) {
    lean.ended(this, -1);
  }
  const listen = (s: NetConn) => {
    s.setNoDelay(true);
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onError);
    s.on('close', onEnd);
  };
  const servers = options.hosts.map((host) => {
    const server = net.createServer({ noDelay: true }, (socket) => {
      const s = socket as NetConn;
      if (!lean.accepted(s)) return void s.destroy();
      listen(s);
    });
    server.on('error', () => options.counters.reject(500)); // accept errors (EMFILE): keep serving
    return { host, server };
  });
  return {
    hub: lean.hub,
    async listen() {
      for (const { host, server } of servers) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port: options.port, backlog: options.backlog, reusePort: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
    },
    adopt(socket, bytes) {
      const s = socket as NetConn;
      if (!lean.adopt(s, Buffer.alloc(0))) return void s.destroy();
      listen(s);
      lean.data(s, bytes);
    },
    async stopAccepting() {
      lean.stop();
      await Promise.all(
        servers.map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              // server.close waits for every connection; streams are ended by hub.shutdown right after this
              setImmediate(resolve);
            }),
        ),
      );
    },
    connections: () => lean.open,
  };
}
