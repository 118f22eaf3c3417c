/**
 * Server-side connections as the kernel counts them: established TCP sockets whose local port is the server's,
 * in the server's network namespace. The same count for any server (comet-lab, nginx, an Erlang VM, a container),
 * never its own API's word. Two readers, one answer:
 *
 * - `ss` (sock_diag netlink, the filter runs in the kernel): only the matching sockets cross into user space.
 *   Measured here with 39,600 loopback connections held (79,200 sockets): 101 ms per count, against 209 ms for
 *   reading and scanning /proc/net/tcp and tcp6 whole (both the mean of 10).
 * - /proc/<pid>/net/tcp and tcp6 (the namespace of <pid>): where `ss` is missing.
 *
 * Both grow with the sockets on the host (about 2.5 ms per 1,000 connections with ss, more on busy cores: 480 ms
 * with another engineer's 300,000 sockets open and both cores busy), so once a count takes more than 250 ms it is
 * repeated at most once per four times its own duration (a quarter of a core at most, whatever N is), except that a
 * new phase always gets a fresh count; in between, the last count stands and a sample says how old it is.
 *
 * A namespace other than ours (a container's) is entered with `nsenter -t <pid> -n`, or read through /proc/<pid>/net.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

export interface ListenSocket {
  port: number;
  /** A process in the server's network namespace (a container's init); absent: the orchestrator's own namespace. */
  netnsPid?: number;
  /**
   * Count only connections from these addresses (the load generators' source addresses): the lab's own requests
   * (autocannon's 64 sends connections, /stats) and anything else on the port are not the held streams.
   */
  peers?: string[];
}

export type KernelCountMethod = 'sock_diag (ss)' | '/proc/net/tcp';

/**
 * ss's output of 40,000 sockets is ~4 MB; room for a million. A minute before giving up: on a host saturated by other
 * runs (load average 35 here) a count waits for the CPU far longer than it uses it.
 */
const MAX_BUFFER = 256 * 2 ** 20;

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: MAX_BUFFER, timeout: 60_000, encoding: 'latin1' }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  if (text.length > 0 && !text.endsWith('\n')) n++;
  return n;
}

const ownNetns = (() => {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return undefined;
  }
})();

/** True when `pid` lives in another network namespace than this process. */
export function otherNetns(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) !== ownNetns;
  } catch {
    return false;
  }
}

/** An IPv4 address as /proc/net/tcp writes it: four bytes in host (little-endian) order, in hex. */
function procHexAddress(ip: string): string {
  return ip.split('.').reverse().map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0')).join('');
}

/**
 * Established sockets with local port `port` in a /proc/net/tcp(6) text (state 01 = TCP_ESTABLISHED), from one of
 * `peers` when given (IPv4; on tcp6 as v4-mapped addresses).
 */
export function countInProcNetTcp(text: string, port: number, peers?: string[]): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const hexPeers = peers?.map(procHexAddress);
  let n = 0;
  let lineStart = text.indexOf('\n') + 1; // skip the header
  while (lineStart > 0 && lineStart < text.length) {
    const end = text.indexOf('\n', lineStart);
    const line = text.slice(lineStart, end < 0 ? text.length : end);
    // "  sl  local_address rem_address   st ...": local is field 2, state field 4.
    const f = line.trim().split(/\s+/, 4);
    const remote = f[2]?.slice(0, f[2].indexOf(':'));
    if (f[1]?.endsWith(hexPort.trimEnd()) && f[3] === '01' && (!hexPeers || hexPeers.some((p) => remote?.endsWith(p)))) n++;
    if (end < 0) break;
    lineStart = end + 1;
  }
  return n;
}

export interface KernelCount {
  connections: number;
  /** Epoch ms the count was taken (older than the sample when the last count was reused). */
  atMs: number;
  method: KernelCountMethod;
}

/** A count that took longer than this is retaken only after COST_FACTOR times its own duration (see above). */
const CHEAP_MS = 250;
const COST_FACTOR = 4;

export class KernelConnectionCounter {
  readonly socket: ListenSocket;
  #method: KernelCountMethod | undefined;
  #last: KernelCount | undefined;
  #lastPhase: string | undefined;
  #lastCostMs = 0;
  #inFlight: Promise<KernelCount> | undefined;

  constructor(socket: ListenSocket) {
    this.socket = socket;
  }

  get method(): KernelCountMethod | undefined {
    return this.#method;
  }

  /**
   * The count now, or the last one while counting is expensive and the phase is the same (see above). A count still
   * out is waited for at most `waitMs`, then the last one stands (its atMs says how old): at 1,000,000 held on two
   * busy cores one `ss` count took up to 38 s, and samples that waited for it came 14-34 s apart (44 skipped ticks in
   * a 3.5-minute run) instead of every second.
   */
  async sample(phase = '', waitMs?: number): Promise<KernelCount> {
    const now = Date.now();
    const expensive = this.#last !== undefined && this.#lastCostMs > CHEAP_MS && now - this.#last.atMs < this.#lastCostMs * COST_FACTOR;
    if (!this.#inFlight && !(expensive && phase === this.#lastPhase)) {
      this.#lastPhase = phase;
      const counting = this.count().then((connections) => {
        this.#lastCostMs = Date.now() - now;
        return (this.#last = { connections, atMs: now, method: this.#method! });
      });
      this.#inFlight = counting;
      void counting.then(
        () => (this.#inFlight = undefined),
        () => (this.#inFlight = undefined),
      );
    }
    const last = this.#last;
    if (!this.#inFlight || last === undefined) return this.#inFlight ?? last!;
    if (waitMs === undefined) return this.#inFlight;
    let timer: NodeJS.Timeout | undefined;
    const stale = new Promise<KernelCount>((resolve) => (timer = setTimeout(() => resolve(last), waitMs)));
    // A count that fails while the last one stands is reported by the next sample that waits for one.
    return Promise.race([this.#inFlight.catch(() => last), stale]).finally(() => clearTimeout(timer));
  }

  /** Established connections on the server's port now. */
  async count(): Promise<number> {
    if (this.#method !== '/proc/net/tcp') {
      try {
        const n = await this.viaSs();
        this.#method = 'sock_diag (ss)';
        return n;
      } catch (err) {
        if (this.#method === 'sock_diag (ss)') throw err; // it worked before: a real failure, not a missing tool
      }
    }
    this.#method = '/proc/net/tcp';
    return this.viaProc();
  }

  private async viaSs(): Promise<number> {
    const peers = this.socket.peers?.length ? ` and ( ${this.socket.peers.map((p) => `dst ${p}`).join(' or ')} )` : '';
    const filter = ['-Htn', 'state', 'established', `( sport = :${this.socket.port} )${peers}`];
    const pid = this.socket.netnsPid;
    const out = otherNetns(pid) ? await run('nsenter', ['-t', String(pid), '-n', 'ss', ...filter]) : await run('ss', filter);
    return countLines(out);
  }

  private viaProc(): number {
    const base = this.socket.netnsPid === undefined ? '/proc/self/net' : `/proc/${this.socket.netnsPid}/net`;
    let n = 0;
    for (const file of ['tcp', 'tcp6']) {
      try {
        n += countInProcNetTcp(readFileSync(`${base}/${file}`, 'latin1'), this.socket.port, this.socket.peers);
      } catch {
        // no IPv6 in this namespace
      }
    }
    return n;
  }
}
