/**
 * Live memory per connection: the growth of memory since the run's first sample, divided by the connections held.
 * Dividing the whole footprint by N would charge a Node process's ~50 MB baseline to the first hundred connections;
 * the growth over the baseline tracks the report's linear-fit slope from the first seconds of a ramp.
 */
import { componentBytes, type LabSample } from './lab-sample.ts';

/** Bytes per connection by side; absent where no connection is held yet or memory is unknown. */
export interface PerConnection {
  server?: number;
  loadgen?: number;
  kernel?: number;
}

export class MemoryPerConnection {
  #baseline: { server?: number; loadgen?: number; kernel?: number } = {};

  /** Feeds one sample (in order) and returns the per-connection figures at that sample. */
  update(s: LabSample): PerConnection {
    const live = s.components.filter((c) => c.up);
    const sum = (role: string): number | undefined => {
      const parts = live.filter((c) => c.role === role).map(componentBytes);
      if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
      return parts.reduce((a: number, b) => a + b!, 0);
    };
    const now = { server: sum('server'), loadgen: sum('loadgen'), kernel: s.kernelTcpBytes };
    const out: PerConnection = {};
    for (const key of ['server', 'loadgen', 'kernel'] as const) {
      const v = now[key];
      if (v === undefined) continue;
      // The baseline is the first reading taken before connections held reach 1% of the target: later readings
      // already include connections, and a run that starts mid-way still gets a baseline.
      const held = key === 'loadgen' ? s.connections.client : s.connections.server;
      if (held === undefined) continue;
      if (this.#baseline[key] === undefined && held <= Math.max(0, s.target * 0.01)) this.#baseline[key] = v;
      const base = this.#baseline[key] ?? 0;
      // Kernel socket memory on loopback holds both ends of every connection; it is charged per server connection.
      if (held > 0) out[key] = Math.max(0, v - base) / held;
    }
    return out;
  }
}
