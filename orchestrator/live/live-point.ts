/**
 * One point of the live page's charts: what a browser needs from one run sample, flat and small, so that the whole
 * history of an hour-long run (3600 points) is sent to a page that opens late in one event.
 */
import { componentBytes, type LabSample } from '../exporter/lab-sample.ts';
import type { PerConnection } from '../exporter/memory-per-connection.ts';

export interface LivePoint {
  t: number; // epoch seconds
  phase: string;
  target: number;
  server: number | null; // connections as the server counts them; null when it did not answer
  client: number | null; // connections as the load generators count them
  /** Bytes per component (working set + kernel socket buffers charged to it); absent while unknown or down. */
  mem: Record<string, number>;
  kernelTcp?: number;
  perConn: PerConnection;
  /** Components that are down, with why. */
  down: Record<string, string>;
  roles: Record<string, string>;
}

export function toLivePoint(s: LabSample, perConn: PerConnection): LivePoint {
  const mem: Record<string, number> = {};
  const down: Record<string, string> = {};
  const roles: Record<string, string> = {};
  for (const c of s.components) {
    roles[c.name] = c.role;
    if (!c.up) {
      down[c.name] = c.exited ?? 'down';
      continue;
    }
    const bytes = componentBytes(c);
    if (bytes !== undefined) mem[c.name] = bytes;
  }
  return {
    t: s.atMs / 1000,
    phase: s.phase,
    target: s.target,
    server: s.connections.server ?? null,
    client: s.connections.client ?? null,
    mem,
    ...(s.kernelTcpBytes !== undefined ? { kernelTcp: s.kernelTcpBytes } : {}),
    perConn,
    down,
    roles,
  };
}
