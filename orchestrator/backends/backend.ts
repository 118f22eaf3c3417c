/**
 * What the orchestrator needs from wherever the lab runs. One folder per way (local/: processes on this host,
 * docker/: containers on one engine, swarm/: services over the nodes of a Docker swarm), memory probes in probes/; every backend passes
 * orchestrator/backends/backend.case.test.ts (the shared suite), each listing what it skips and why.
 */
import type { Plan } from '../plan/plan.ts';
import type { ListenSocket } from '../run/kernel-connections.ts';

export type ComponentRole = 'server' | 'loadgen';

/**
 * How memory was read; the report names it next to every figure. `cgroup-v1-inside`/`cgroup-v2-inside`: the
 * component read its own cgroup (the `docker stats` formula) and reported it through its API (swarm backend).
 */
export type MemoryMethod = 'cgroup-v1' | 'cgroup-v2' | 'docker-stats' | 'proc-rss' | 'cgroup-v1-inside' | 'cgroup-v2-inside';

export interface MemoryReading {
  /** User-space working set as `docker stats` counts it: usage minus inactive file cache. */
  workingSetBytes: number;
  /** Kernel socket buffers charged to this component, where the method can separate them. */
  kernelSocketBytes?: number;
  /**
   * All kernel memory charged to this component (slab: socket structures, epoll items, files...), where the method
   * can tell: v1 memory.kmem.usage_in_bytes, v2 memory.stat `kernel`. Already part of workingSetBytes.
   */
  kernelBytes?: number;
  /** Cumulative CPU time (user + system) in seconds, where known. */
  cpuSeconds?: number;
  method: MemoryMethod;
  /** The same working set read another way at the same time, where one can be had (swarm: the node engine's stats). */
  crossCheck?: { workingSetBytes: number; method: MemoryMethod };
}

export interface MemoryProbe {
  read(): Promise<MemoryReading>;
}

export interface Component {
  name: string; // e.g. server, loadgen-1
  role: ComponentRole;
  /** Base URL of the HTTP API: the server's (stats, send, broadcast) or a load generator's control port. */
  url: string;
  /**
   * The bearer token its control requests need (the server's admin token for send and broadcast; a load
   * generator's control token for ramp, stop, latency reset). Held in memory only, never written to the report.
   */
  token?: string;
  probe: MemoryProbe;
  /** The server's: where its sockets are, so the kernel can count its connections (orchestrator/run/kernel-connections.ts). */
  listen?: ListenSocket;
  /** Set when the component has died: why (exit code, signal, OOM kill, the node it ran on left). */
  exited(): string | undefined;
  /** The host it runs on, where the backend spans several (swarm: the node's host name). */
  node?: string;
}

export interface Backend {
  readonly name: 'local' | 'docker' | 'swarm';
  /**
   * Starts the server and load generators of the plan; resolves when every one answers on its API, with the plan it
   * adopted: what really runs (the server's port, workers and heartbeat, the load generators as laid out), which the
   * run drives and the report describes. `plan.loadgens[i]` of the result is the component of the same name. The
   * plan given is left as it was. When `signal` aborts (Ctrl-C), it stops waiting for components to be ready and
   * rejects with the signal's reason promptly (within a second or two, not after a ready timeout of 30-180 s);
   * stop() then removes what it had started.
   */
  up(plan: Plan, signal?: AbortSignal): Promise<Plan>;
  components(): Component[];
  /** Stops and removes everything `up` made (processes, cgroups, containers, networks). Safe to call twice. */
  stop(): Promise<void>;
  /**
   * A second Ctrl-C: the orchestrator exits right after this returns, so it does at once, synchronously, what it can
   * (signals its processes) and returns one line saying what may be left and how to remove it.
   */
  abandon?(): string;
  /** What the backend saw happen around the run, with times (swarm: nodes going down, tasks rescheduled). */
  events?(): Array<{ atMs: number; what: string }>;
}
