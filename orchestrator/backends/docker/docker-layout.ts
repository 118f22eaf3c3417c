/**
 * How the Docker backend spreads N over load-generator containers: pure arithmetic, unit-tested. Each container has
 * its own address on the lab network, so its own ephemeral ports towards the server (the container's namespaced
 * ip_local_port_range is widened to 10240-65535); each process inside stays under the container's file limit
 * (the host's hard nofile caps it: more connections take more processes, not a bigger limit).
 */
import type { Plan } from '../../plan/plan.ts';

export interface LoadgenContainerSpec {
  name: string; // component name: loadgen-1, ...
  ip: string;
  /** Extra source addresses added inside the container (each brings its own ports); empty by default. */
  extraIps: string[];
  procs: number;
  connections: number;
  startIndex: number;
}

export interface LayoutOptions {
  /** At least this many containers (e.g. 3 to see several addresses at a small N). */
  minContainers?: number;
  /** Source addresses per container, its own included (default 1): fewer containers for the same N. */
  addressesPerContainer?: number;
  /** Files one process may hold inside a container (its nofile ulimit). */
  fdLimit: number;
  /** Ephemeral ports inside a load-generator container (default 10240-65535, as docker-loadgen-containers sets). */
  portRange?: [number, number];
  subnet: string;
  /** Addresses already taken on the network (server, Prometheus, Grafana, gateway). */
  usedIps: string[];
}

/** Descriptors a process keeps for itself (control listener, pipes, libuv): never planned for connections. */
export const FD_RESERVE = 1000;
/** Ports used per address: TIME_WAIT sockets of the previous run keep some. */
export const PORT_FILL = 0.9;
/** Load-generator addresses start at .100 of the subnet (below: server .10, Prometheus .20, Grafana .30). */
export const FIRST_LOADGEN_HOST = 100;

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `count` free addresses of `subnet` from host number FIRST_LOADGEN_HOST up, skipping `used`; throws when full. */
export function allocateIps(subnet: string, used: string[], count: number): string[] {
  const [base, bitsText] = subnet.split('/');
  const bits = Number(bitsText);
  if (!base || !Number.isInteger(bits) || bits < 8 || bits > 30) throw new Error(`not an IPv4 subnet: ${subnet}`);
  const size = 2 ** (32 - bits);
  const network = (ipToInt(base) & ~(size - 1)) >>> 0;
  const taken = new Set(used.map(ipToInt));
  const out: string[] = [];
  for (let host = FIRST_LOADGEN_HOST; out.length < count && host < size - 1; host++) {
    const ip = network + host;
    if (!taken.has(ip)) out.push(intToIp(ip));
  }
  if (out.length < count) throw new Error(`subnet ${subnet} has room for ${out.length} more load generators, ${count} needed`);
  return out;
}

/** Splits `total` into `parts` integers differing by at most one, largest first. */
function split(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total - base * parts ? 1 : 0));
}

export function layoutLoadgens(plan: Plan, opts: LayoutOptions): LoadgenContainerSpec[] {
  const [lo, hi] = opts.portRange ?? [10240, 65535];
  const addresses = Math.max(1, Math.floor(opts.addressesPerContainer ?? 1));
  const portsPerContainer = Math.floor((hi - lo + 1) * PORT_FILL) * addresses;
  const perProc = Math.max(1, opts.fdLimit - FD_RESERVE);
  const plannedProcs = plan.loadgens.reduce((s, l) => s + l.procs, 0);
  const count = Math.max(1, opts.minContainers ?? 0, Math.ceil(plan.n / portsPerContainer));
  const shares = split(plan.n, count);
  const procShares = split(plannedProcs, count);
  const ips = allocateIps(opts.subnet, opts.usedIps, count * addresses);
  let start = plan.loadgens[0]?.startIndex ?? 0;
  return shares.map((connections, i) => {
    const spec: LoadgenContainerSpec = {
      name: `loadgen-${i + 1}`,
      ip: ips[i * addresses]!,
      extraIps: ips.slice(i * addresses + 1, (i + 1) * addresses),
      procs: Math.max(1, procShares[i] ?? 0, Math.ceil(connections / perProc)),
      connections,
      startIndex: start,
    };
    start += connections;
    return spec;
  });
}
