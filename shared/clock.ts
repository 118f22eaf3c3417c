/**
 * Epoch milliseconds with sub-millisecond precision. Processes on one host share the system clock, so a timestamp
 * taken here by the server and read there by a load generator gives a true delivery latency (to a few µs).
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
