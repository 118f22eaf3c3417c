/**
 * The swarm planner: pure arithmetic from N and the swarm's nodes (count, cores, memory, labels, as the engine lists
 * them) to a Plan laid out per node. The server goes to the node labelled `comet-lab.role=server` (or the only node);
 * the load generators are replicas of one service, spread by swarm over the other nodes (or all of them), at most
 * ceil(replicas / nodes) per node, replica k taking ids from its task slot k. Each node's expected memory is checked
 * against what that node has.
 */
import { CONNECTION_COSTS, type ConnectionCosts } from '../../kernel/costs.ts';
import type { LoadgenPlan, NodePlan, Plan } from './plan.ts';
import { PLANNING, split, type PlanRequest } from './planner.ts';

/** A swarm node as the planner needs it (backends/swarm/swarm-nodes.ts reads it from the engine). */
export interface SwarmNode {
  id: string;
  /** Host name, as `docker node ls` shows it. */
  name: string;
  /** Address the node is reached at in the swarm. */
  addr: string;
  role: 'manager' | 'worker';
  /** `ready` when it answers the managers. */
  state: string;
  /** `active` when it takes tasks. */
  availability: string;
  cores: number;
  memoryBytes: number;
  labels: Record<string, string>;
}

export const SERVER_LABEL = 'comet-lab.role';
export const SERVER_LABEL_VALUE = 'server';
/** Ephemeral ports of a load-generator replica: its own network namespace, ip_local_port_range 10240-65535. */
export const REPLICA_PORT_RANGE: [number, number] = [10240, 65535];

export interface SwarmPlanOptions {
  /** Load generators on the nodes other than the server's (default when there are some), or on every node. */
  loadgensOn?: 'others' | 'all';
  /** nofile of every container (COMET_NOFILE): each process holds this minus its reserve. */
  fdLimit: number;
  /** At least this many replicas (LAB_SWARM_LOADGENS). */
  minReplicas?: number;
}

const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;

/** ids of slot k (1-based) of R replicas sharing N: the same split the planner uses, so slot k is loadgen-k. */
export function slotShares(n: number, replicas: number): Array<{ startIndex: number; connections: number }> {
  let start = 0;
  return split(n, replicas).map((connections) => {
    const s = { startIndex: start, connections };
    start += connections;
    return s;
  });
}

export function makeSwarmPlan(req: PlanRequest, nodes: SwarmNode[], opts: SwarmPlanOptions, costs: ConnectionCosts = CONNECTION_COSTS): Plan {
  const refusals: string[] = [];
  const warnings: string[] = [];
  const usable = nodes.filter((x) => x.state === 'ready' && x.availability === 'active');
  for (const x of nodes) if (!usable.includes(x)) warnings.push(`node ${x.name} is ${x.state}/${x.availability}: nothing is planned on it`);
  const labelled = usable.filter((x) => x.labels[SERVER_LABEL] === SERVER_LABEL_VALUE);
  let serverNode: SwarmNode | undefined = labelled[0];
  if (usable.length === 0) refusals.push('the swarm has no ready, active node');
  else if (labelled.length > 1) refusals.push(`${labelled.length} nodes carry ${SERVER_LABEL}=${SERVER_LABEL_VALUE} (${labelled.map((x) => x.name).join(', ')}): the server runs on one`);
  else if (!serverNode && usable.length === 1) serverNode = usable[0];
  else if (!serverNode) refusals.push(`no node carries ${SERVER_LABEL}=${SERVER_LABEL_VALUE}: docker node update --label-add ${SERVER_LABEL}=${SERVER_LABEL_VALUE} <node>`);

  const others = usable.filter((x) => x !== serverNode);
  const loadgensOn = opts.loadgensOn ?? (others.length > 0 ? 'others' : 'all');
  const loadgenNodes = loadgensOn === 'all' ? usable : others;
  if (usable.length > 0 && loadgenNodes.length === 0) refusals.push('no node is left for the load generators: add one, or LAB_SWARM_LOADGENS_ON=all');

  const perProcess = Math.max(1, opts.fdLimit - costs.fdReservePerProcess);
  const perWorker = Math.max(1, Math.floor(perProcess * PLANNING.serverFill));
  const workers = Math.max(1, req.workers || Math.ceil(req.n / perWorker));
  const perReplica = Math.max(1, Math.floor((REPLICA_PORT_RANGE[1] - REPLICA_PORT_RANGE[0] + 1) * PLANNING.portFill));
  const replicas = Math.max(1, Math.min(req.n, Math.max(Math.ceil(req.n / perReplica), loadgenNodes.length, opts.minReplicas ?? 0)));

  const loadgens: LoadgenPlan[] = slotShares(req.n, replicas).map((s, i) => ({
    name: `loadgen-${i + 1}`,
    procs: Math.max(1, Math.ceil(s.connections / perProcess)),
    connections: s.connections,
    startIndex: s.startIndex,
    sourceAddresses: [],
    targets: [{ host: 'server', port: req.serverPort || 8000 }],
  }));

  // Per node: the server's share and, spread as swarm does (largest first), the replicas it may get.
  const serverBytes = req.n * (costs.serverBytes + costs.kernelSocketBytes) + workers * costs.processBaseBytes;
  const replicaBytes = (lg: LoadgenPlan) => lg.connections * (costs.loadgenBytes + costs.kernelSocketBytes) + lg.procs * costs.processBaseBytes;
  const planned: NodePlan[] = usable.map((x) => ({ name: x.name, id: x.id, cores: x.cores, memoryBytes: x.memoryBytes, server: x === serverNode, loadgens: [], expectedMemoryBytes: x === serverNode ? serverBytes : 0 }));
  const lgNodes = planned.filter((p) => loadgenNodes.some((x) => x.id === p.id));
  loadgens.forEach((lg, i) => {
    const p = lgNodes[i % Math.max(1, lgNodes.length)];
    if (!p) return;
    p.loadgens.push(lg.name);
    p.expectedMemoryBytes += replicaBytes(lg);
  });
  for (const p of planned) {
    if (p.expectedMemoryBytes > p.memoryBytes * costs.memoryHeadroom) {
      refusals.push(`node ${p.name}: expected ${mib(p.expectedMemoryBytes)} of its ${mib(p.memoryBytes)} (over ${Math.round(costs.memoryHeadroom * 100)}%)`);
    }
  }
  if (req.holdSeconds < 2 * req.intervalSeconds) {
    warnings.push(`a hold of ${req.holdSeconds}s with a ${req.intervalSeconds}s heartbeat sees fewer than two heartbeat chunks per connection`);
  }
  const loadgenTotal = loadgens.reduce((a, l) => a + replicaBytes(l), 0);
  return {
    n: req.n,
    backend: 'swarm',
    server: { engine: req.engine, workers, port: req.serverPort || 8000, addresses: [], heartbeatIntervalMs: Math.round(req.intervalSeconds * 1000) },
    loadgens,
    transport: req.transport,
    rampRate: req.rate,
    holdSeconds: req.holdSeconds,
    fdLimitPerProcess: opts.fdLimit,
    portsPerAddress: perReplica,
    expectedMemory: {
      server: req.n * costs.serverBytes + workers * costs.processBaseBytes,
      loadgen: loadgenTotal - req.n * costs.kernelSocketBytes,
      kernel: 2 * req.n * costs.kernelSocketBytes,
    },
    nodes: planned,
    refusals,
    warnings,
  };
}
