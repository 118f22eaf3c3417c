import type { Transport } from '../../shared/contracts.ts';

/**
 * A plan is everything a backend needs to start a run, worked out before anything starts so that it can be printed
 * and refused. The planner (orchestrator/plan/planner.ts) makes it from the flood options and the host's limits.
 */

export interface LoadgenPlan {
  name: string; // loadgen-1, loadgen-2, ...
  procs: number; // processes inside this load generator (each under the per-process file limit)
  connections: number; // its share of N
  /** First connection index of its share: ids are `startIndex .. startIndex + connections - 1`, unique over the run. */
  startIndex: number;
  /** Source addresses it binds (local backend: 127.0.0.x; docker backend: extra addresses inside the container). */
  sourceAddresses: string[];
  /** Where it connects: the server's address(es) and port. */
  targets: Array<{ host: string; port: number }>;
  /** Swarm: the node it runs on (host name), once the backend has placed it; planned: absent (swarm spreads them). */
  node?: string;
}

/** Swarm: one node of the swarm and what the plan puts on it. */
export interface NodePlan {
  /** The node's host name (as `docker node ls` shows it) and id. */
  name: string;
  id: string;
  cores: number;
  memoryBytes: number;
  /** Runs the server (it carries the label comet-lab.role=server, or is the only node). */
  server: boolean;
  /** Load-generator replicas it takes: planned (swarm spreads them, at most this many per node), or as placed. */
  loadgens: string[];
  /** Memory expected on this node at N: server and load generators, user space and kernel sockets. */
  expectedMemoryBytes: number;
}

export interface Plan {
  n: number;
  backend: 'local' | 'docker' | 'swarm';
  server: {
    engine: string;
    workers: number;
    port: number;
    /** Addresses the server listens on (local backend: it listens on all of 127.0.0.0/8 through 0.0.0.0 or each). */
    addresses: string[];
    heartbeatIntervalMs: number;
  };
  loadgens: LoadgenPlan[];
  transport: Transport;
  rampRate: number; // connections per second, all load generators together
  holdSeconds: number;
  /** Open files a process may hold here (hard `nofile`); every process count above derives from it. */
  fdLimitPerProcess: number;
  /** Ports one (source, destination) address pair offers: the ephemeral range with headroom. */
  portsPerAddress: number;
  /** Expected memory at N, bytes, from per-connection costs measured on this kind of machine. */
  expectedMemory: { server: number; loadgen: number; kernel: number };
  /**
   * The server under test when it is not comet-lab's own (orchestrator/targets/): what it is, the stream path the
   * load generators ask (`{i}` = index) and their extra flags. Absent: comet-lab's server and its paths.
   */
  target?: { name: string; kind: string; streamPath: string; loadgenFlags: string[] };
  /** Swarm: the nodes and what runs on each (planned from the engine's node list; after up(), as placed). */
  nodes?: NodePlan[];
  /** Why this host cannot run it (empty when it can); `--force` runs anyway. */
  refusals: string[];
  warnings: string[];
}
