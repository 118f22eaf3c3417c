/**
 * Host-wide kernel TCP memory from /proc/net/sockstat (`TCP: ... mem <pages>`): the socket buffers of every TCP
 * socket in this network namespace, which on loopback means both ends of every lab connection.
 */
import { readFileSync } from 'node:fs';

const PAGE_SIZE = 4096;

export interface SockstatTcp {
  inuse: number;
  orphan: number;
  tw: number;
  alloc: number;
  memBytes: number;
}

export function parseSockstat(text: string): SockstatTcp {
  const line = text.split('\n').find((l) => l.startsWith('TCP:')) ?? '';
  const field = (name: string) => Number(new RegExp(`\\b${name} (\\d+)`).exec(line)?.[1] ?? 0);
  return { inuse: field('inuse'), orphan: field('orphan'), tw: field('tw'), alloc: field('alloc'), memBytes: field('mem') * PAGE_SIZE };
}

export function readSockstat(path = '/proc/net/sockstat'): SockstatTcp {
  return parseSockstat(readFileSync(path, 'latin1'));
}

/** Kernel slab memory of the host (/proc/meminfo `Slab`): where socket structures live (~2 per loopback connection). */
export function readSlabBytes(path = '/proc/meminfo'): number {
  const m = /^Slab:\s+(\d+) kB/m.exec(readFileSync(path, 'latin1'));
  return m ? Number(m[1]) * 1024 : 0;
}
