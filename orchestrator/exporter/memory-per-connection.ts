/**
 * Live memory per connection: the growth of memory since the run's first samples, divided by the connections held.
 * Dividing the whole footprint by N would charge a Node process's ~50 MB baseline to the first hundred connections;
 * the growth over the baseline tracks the report's linear-fit slope from the first seconds of a ramp.
 *
 * A figure is given only where it means something: once at least MIN_HELD connections (and 1% of the target) are
 * held, so that a few MB of garbage-collector noise over a handful of connections is not shown as kilobytes per
 * connection, and never when the growth is negative (memory below its baseline says nothing per connection; it is
 * left out, not clamped to 0).
 */
import { componentBytes, type RunSample } from '../run/sample.ts';

/** Bytes per connection by side; absent where it would mean nothing (see above). */
export interface PerConnection {
  server?: number;
  loadgen?: number;
  /** Host-wide kernel slab growth (socket structures of both ends, epoll, files) per server-side connection. */
  kernel?: number;
}

/** Below this many connections held, growth per connection is mostly noise. */
export const MIN_HELD = 100;

export class MemoryPerConnection {
  #baseline: { server?: number; loadgen?: number; kernel?: number } = {};

  /** Feeds one sample (in order) and returns the per-connection figures at that sample. */
  update(s: RunSample): PerConnection {
    const live = s.components.filter((c) => c.up);
    const sum = (role: string): number | undefined => {
      const parts = live.filter((c) => c.role === role).map(componentBytes);
      if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
      return parts.reduce((a: number, b) => a + b!, 0);
    };
    const now = { server: sum('server'), loadgen: sum('loadgen'), kernel: s.kernelSlabBytes };
    const out: PerConnection = {};
    for (const key of ['server', 'loadgen', 'kernel'] as const) {
      const v = now[key];
      if (v === undefined) continue;
      // The baseline is the first reading taken before connections held reach 1% of the target: later readings
      // already include connections, and a run that starts mid-way still gets a baseline.
      const held = key === 'loadgen' ? s.connections.client : s.connections.server;
      if (held === undefined) continue;
      const early = held <= Math.max(0, s.target * 0.01);
      if (this.#baseline[key] === undefined && early) this.#baseline[key] = v;
      const base = this.#baseline[key];
      if (base === undefined || early || held < MIN_HELD) continue;
      const growth = v - base;
      if (growth >= 0) out[key] = growth / held;
    }
    return out;
  }
}
