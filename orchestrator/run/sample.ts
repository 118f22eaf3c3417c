/**
 * One sample of a run, taken once a second: both sides' connection counts, memory and CPU per component, and the
 * kernel's TCP memory. The shape is a superset of the exporter's LabSample (orchestrator/exporter/lab-sample.ts),
 * so listeners take it as is. Numbers a component did not give are absent, never 0.
 */
import type { ComponentRole, MemoryMethod } from '../backends/backend.ts';

export interface ComponentSample {
  name: string;
  role: ComponentRole;
  up: boolean;
  exited?: string;
  workingSetBytes?: number;
  kernelSocketBytes?: number;
  kernelBytes?: number;
  cpuSeconds?: number;
  method?: MemoryMethod;
  /** The host it runs on (swarm: the node's host name). */
  node?: string;
  /** The same working set read another way in the same sample (swarm: the node engine's `docker stats` figure). */
  crossCheckWorkingSetBytes?: number;
}

export interface RunSample {
  atMs: number; // epoch ms when the sample was taken
  t: number; // seconds since the run started
  phase: string;
  target: number; // connections asked of the load generators so far
  connections: { server: number | undefined; client: number | undefined };
  client: { connecting: number; closed: number; chunks: number; messages: number; errors: number } | undefined;
  server: { chunksSent: number; messagesSent: number; eventLoopLagMs: number } | undefined;
  components: ComponentSample[];
  kernelTcpBytes: number; // host-wide, /proc/net/sockstat
  tcpInuse: number; // host-wide TCP sockets in use, /proc/net/sockstat
  kernelSlabBytes?: number; // host-wide, /proc/meminfo Slab
}
