/**
 * The server's port, checked before any worker starts: a taken port is a LabError naming it, never a silent other
 * port. Each address is first bound by a plain net.Server without SO_REUSEPORT (it fails on any socket already
 * bound there, whatever its options), then released; where the raw TCP layer runs, the port is then held for the
 * server's lifetime by handles bound with SO_REUSEPORT but never listening (they take no connections), so `--port 0`
 * keeps its port across worker restarts. A raw bind cannot tell us itself that it failed: libuv defers EADDRINUSE
 * to listen() (measured: bind returns 0 and getsockname reads port 0), which is why main once printed a ready line
 * with another port; here the bound port is read back and compared.
 */
import net from 'node:net';
import { EXIT, LabError } from '../../shared/errors.ts';
import { bindRaw, boundPort, closeRaw, tcpBindingsAvailable, type TcpHandle } from '../../shared/raw-tcp/raw-tcp.ts';

/** The port every address is held on, and how to let it go. */
export interface PortReservation {
  readonly port: number;
  /** True when raw handles hold the port (false: checked only, under --permission or without tcp_wrap). */
  readonly held: boolean;
  release(): void;
}

const HINTS: Record<string, string> = {
  EADDRINUSE: 'another process holds that port: stop it, choose another --port, or --port 0 for a free one',
  EADDRNOTAVAIL: 'that address is not on this host: see `ip addr`, or use 127.0.0.1',
  EACCES: 'ports below 1024 need root (or CAP_NET_BIND_SERVICE): choose --port 1024 or above',
};

function listenError(host: string, port: number, code: string): LabError {
  const taken = code === 'EADDRINUSE';
  return new LabError(taken ? 'LAB_ERR_PORT_TAKEN' : 'LAB_ERR_LISTEN', `cannot listen on ${hostPort(host, port)}: ${taken ? `port ${port} is taken` : code}`, {
    exitCode: EXIT.preflight,
    hint: HINTS[code],
  });
}

const hostPort = (host: string, port: number) => (net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

/** Listens on host:port without SO_REUSEPORT (port 0: a free one); resolves with the server, or the errno name. */
function probe(host: string, port: number): Promise<net.Server | string> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EINVAL'));
    server.listen({ host, port, backlog: 1 }, () => resolve(server));
  });
}

const close = (servers: net.Server[]) => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));

/** One port free on every host: `port` itself, or (0) the first the kernel offers that is free on all of them. */
async function findFreePort(hosts: readonly string[], port: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const servers: net.Server[] = [];
    let chosen = port;
    let failed: { host: string; code: string } | undefined;
    for (const host of hosts) {
      const r = await probe(host, chosen);
      if (typeof r === 'string') {
        failed = { host, code: r };
        break;
      }
      servers.push(r);
      if (chosen === 0) chosen = (r.address() as net.AddressInfo).port;
    }
    await close(servers);
    if (failed === undefined) return chosen;
    // --port 0 over several addresses: the port the first one got may be taken on another; try another one
    if (port !== 0 || failed.code !== 'EADDRINUSE') throw listenError(failed.host, chosen, failed.code);
  }
  throw new LabError('LAB_ERR_PORT_TAKEN', `no port is free on every one of ${hosts.join(', ')} after 20 tries`, { exitCode: EXIT.preflight });
}

/** Checks `port` on every host (0: picks one free on all) and holds it where the raw TCP layer runs. */
export async function reservePort(hosts: readonly string[], port: number): Promise<PortReservation> {
  const chosen = await findFreePort(hosts, port);
  if (!tcpBindingsAvailable()) return { port: chosen, held: false, release() {} };
  const handles: TcpHandle[] = [];
  const release = () => {
    for (const h of handles.splice(0)) closeRaw(h);
  };
  for (const host of hosts) {
    const h = bindRaw(host, chosen, true);
    handles.push(h);
    // another process took the port between the check and this bind: the deferred EADDRINUSE reads as port 0
    if (boundPort(h) !== chosen) {
      release();
      throw listenError(host, chosen, 'EADDRINUSE');
    }
  }
  return { port: chosen, held: true, release };
}
