/**
 * Picks local ports per source address, so a bound connect never makes the kernel search for a free port (which it
 * does for port 0, and which slows connects to a few hundred per second as a range fills). Each address walks its
 * own range in order and wraps; a port the kernel refuses (4-tuple in use) is skipped by the caller.
 */
import { readFileSync } from 'node:fs';

/** Linux's ephemeral port range (`net.ipv4.ip_local_port_range`, per network namespace). */
export function ephemeralPortRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo! > 0 && hi! >= lo!) return [lo!, hi!];
  } catch {
    // not Linux, or /proc unavailable: the usual default
  }
  return [32768, 60999];
}

export class PortAllocator {
  private readonly next: Int32Array;
  readonly lo: number;
  readonly hi: number;

  constructor(addresses: number, lo: number, hi: number) {
    this.lo = lo;
    this.hi = hi;
    this.next = new Int32Array(addresses).fill(lo);
  }

  /** Ports in the range: how many connections one address can hold to one destination. */
  get size(): number {
    return this.hi - this.lo + 1;
  }

  /** The next port to try for address `a`. */
  take(a: number): number {
    const port = this.next[a]!;
    this.next[a] = port >= this.hi ? this.lo : port + 1;
    return port;
  }
}

/** Splits [lo, hi] into `parts` equal slices; slice `k` for child `k` of a parent sharing its source addresses. */
export function splitRange(lo: number, hi: number, parts: number, k: number): [number, number] {
  const size = Math.floor((hi - lo + 1) / parts);
  const from = lo + k * size;
  return [from, k === parts - 1 ? hi : from + size - 1];
}
