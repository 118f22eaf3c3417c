/**
 * The arithmetic behind assessCapacity: processes under the file limit, memory at N, ports per source address.
 */
import { CONNECTION_COSTS, type ConnectionCosts } from './costs.ts';
import type { HostLimits } from './host-limits.ts';

/** 127.0.0.1 to 127.255.255.254: source addresses a loopback client can bind. */
export const LOOPBACK_ADDRESSES = 2 ** 24 - 2;

/** Connections one process can hold under its hard nofile limit (Node raises soft to hard by itself). */
export function connectionsPerProcess(limits: HostLimits, costs: ConnectionCosts = CONNECTION_COSTS): number {
  const hard = Math.min(limits.nofile.hard, limits.nrOpen ?? Infinity);
  return Math.max(1, (Number.isFinite(hard) ? hard : 1_048_576) - costs.fdReservePerProcess);
}

/** Expected memory at n: user space per side (with process bases) and kernel sockets (two per connection). */
export function expectedMemory(n: number, perProcess: number, costs: ConnectionCosts = CONNECTION_COSTS) {
  const procs = Math.ceil(n / perProcess);
  const server = n * costs.serverBytes + procs * costs.processBaseBytes;
  const loadgen = n * costs.loadgenBytes + procs * costs.processBaseBytes;
  const kernel = 2 * n * costs.kernelSocketBytes;
  return { server, loadgen, kernel, total: server + loadgen + kernel };
}

/** Largest n whose expected memory fits in `bytes` (binary search: the process count makes it a step function). */
export function maxNForMemory(bytes: number, perProcess: number, costs: ConnectionCosts = CONNECTION_COSTS): number {
  let lo = 0;
  let hi = Math.ceil(bytes / (costs.serverBytes + costs.loadgenBytes + 2 * costs.kernelSocketBytes)) + 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (expectedMemory(mid, perProcess, costs).total <= bytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Ports a client may pick per (source address, destination): the range minus reserved ports inside it. */
export function portsPerSource(limits: HostLimits): number | undefined {
  if (!limits.portRange) return undefined;
  const { low, high } = limits.portRange;
  let reserved = 0;
  for (const part of (limits.reservedPorts ?? '').split(',').filter(Boolean)) {
    const [a, b = a] = part.split('-').map(Number);
    reserved += Math.max(0, Math.min(b, high) - Math.max(a, low) + 1);
  }
  return high - low + 1 - reserved;
}

