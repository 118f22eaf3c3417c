/**
 * What the exporter and the live page read from a run: one sample a second, phase changes, errors and the end.
 * The run engine's own event payloads are adapted into these shapes in one place (`toLabSample`), so that the two
 * listeners do not break when a field of the engine's sample is renamed.
 */
import type { ComponentRole } from '../backends/backend.ts';

/** One component as seen in one sample. Memory fields are absent when the probe could not read them. */
export interface ComponentSample {
  name: string; // server, loadgen-1, ...
  role: ComponentRole;
  up: boolean;
  /** Why the component is down (exit code, signal, OOM kill); empty while it is up. */
  exited?: string;
  workingSetBytes?: number;
  kernelSocketBytes?: number;
  cpuSeconds?: number;
  method?: string;
}

/** One second of a run, as the exporter and the live page need it. */
export interface LabSample {
  atMs: number; // epoch milliseconds
  phase: string;
  target: number;
  /** Connections as each side counts them; absent when that side did not answer this second. */
  connections: { server?: number; client?: number };
  components: ComponentSample[];
  /** Kernel TCP memory of the whole host (or network namespace), from /proc/net/sockstat. */
  kernelTcpBytes?: number;
}

/** The part of an EventEmitter the listeners use: they subscribe, and unsubscribe when closed. */
export interface RunEventSource {
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Reads a run engine `sample` event payload into a LabSample. Accepts the field spellings the engine uses; unknown or
 * missing numbers become undefined (never 0), so a probe that failed shows as a gap rather than a fall to zero.
 */
export function toLabSample(raw: any): LabSample {
  const conns = raw?.connections ?? {};
  const comps: any[] = Array.isArray(raw?.components)
    ? raw.components
    : Object.entries(raw?.memory ?? {}).map(([name, m]) => ({ name, ...(m as object) }));
  return {
    atMs: num(raw?.atMs) ?? num(raw?.tMs) ?? num(raw?.t) ?? Date.now(),
    phase: String(raw?.phase ?? 'unknown'),
    target: num(raw?.target) ?? 0,
    connections: {
      server: num(conns.server) ?? num(raw?.serverConnections),
      client: num(conns.client) ?? num(conns.loadgen) ?? num(raw?.clientConnections),
    },
    components: comps.map((c) => {
      const mem = c.memory ?? c;
      const exited = typeof c.exited === 'string' && c.exited ? c.exited : undefined;
      return {
        name: String(c.name),
        role: c.role === 'server' || String(c.name) === 'server' ? 'server' : 'loadgen',
        up: typeof c.up === 'boolean' ? c.up : exited === undefined,
        exited,
        workingSetBytes: num(mem.workingSetBytes),
        kernelSocketBytes: num(mem.kernelSocketBytes),
        cpuSeconds: num(mem.cpuSeconds),
        method: typeof mem.method === 'string' ? mem.method : undefined,
      } satisfies ComponentSample;
    }),
    kernelTcpBytes: num(raw?.kernelTcpBytes) ?? num(raw?.kernelTcpMemoryBytes) ?? num(raw?.kernel?.tcpBytes),
  };
}

/** Memory a component holds: working set plus the kernel's socket buffers charged to it, where known. */
export function componentBytes(c: ComponentSample): number | undefined {
  if (c.workingSetBytes === undefined) return undefined;
  return c.workingSetBytes + (c.kernelSocketBytes ?? 0);
}
