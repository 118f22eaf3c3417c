/**
 * One sample of a run, taken once a second: both sides' connection counts, memory and CPU per component, and the
 * kernel's TCP memory. The shape is a superset of the exporter's LabSample (orchestrator/exporter/lab-sample.ts),
 * so listeners take it as is. Numbers a component did not give are absent, never 0.
 */
import type { PaceStatus } from '../../shared/contracts.ts';
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
  /** The load generators' connect pace, summed (shared/pace.ts), when they report one. */
  pace?: PaceStatus;
  /**
   * What taking this sample cost the orchestrator: wall time (ms), and of it the server's answer, the slowest load
   * generator's answer, and the probes' reading (ms); components that did not answer within the sample's budget
   * (their figures are absent); its own CPU time so far (s).
   */
  orchestrator?: { sampleMs: number; serverMs: number; loadgenMs: number; probesMs: number; missing: number; serverPartial?: boolean; cpuSeconds: number };
}
