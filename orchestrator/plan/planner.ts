/**
 * The planner: pure arithmetic from the flood's options and the host's limits to a Plan. No I/O, so every number
 * it chooses is unit-tested (planner.test.ts) and printed by `orchestrator/cli.ts plan` before anything starts.
 */
import type { Transport } from '../../shared/contracts.ts';
import { CONNECTION_COSTS, type ConnectionCosts } from '../../kernel/costs.ts';
import { expectedMemory as kernelExpectedMemory } from '../../kernel/capacity-math.ts';
import type { LoadgenPlan, Plan } from './plan.ts';

/** What the planner needs to know about the host; host-limits.ts fills it from kernel/'s readHostLimits(). */
export interface PlannerHost {
  /** Connections one process can hold: its hard `nofile` limit minus what it keeps for itself (kernel/capacity-math). */
  connectionsPerProcess: number;
  /** The hard `nofile` limit itself (children raise their soft limit to it). */
  fdLimit: number;
  /** `net.ipv4.ip_local_port_range`, inclusive. */
  portRange: [number, number];
  /** Ports a client may pick per (source, destination) address pair: the range minus reserved ports. */
  portsPerAddress: number;
  memAvailableBytes: number;
  cores: number;
  /**
   * assessCapacity()'s expected memory at N (process bases included): the plan shows these figures, so the plan and
   * `make doctor` give one estimate. Without it (pure tests), the same kernel/capacity-math arithmetic is used.
   */
  expectedMemory?: { server: number; loadgen: number; kernel: number; total: number };
  /**
   * Failed findings of kernel/'s assessCapacity() (files, memory, conntrack, ...): refusals, with its words. The
   * memory verdict is assessCapacity's alone: the planner makes no memory judgement of its own.
   */
  capacityProblems?: string[];
  capacityWarnings?: string[];
}

export interface PlanRequest {
  n: number;
  backend: Plan['backend'];
  engine: string;
  transport: Transport;
  rate: number;
  holdSeconds: number;
  intervalSeconds: number;
  serverPort: number;
  /** 0 = planner chooses. */
  workers?: number;
  loadgenProcs?: number;
}

/**
 * Headroom. reusePort spreads accepts by hash, not evenly, so a server worker is planned to 90% of what one process
 * can hold; TIME_WAIT sockets from earlier runs and other tests take ports, so 90% of each address's ports.
 * Per-connection memory costs live in kernel/costs.ts (shared with the doctor), not here.
 */
export const PLANNING = {
  serverFill: 0.9,
  portFill: 0.9,
  maxProcsPerLoadgen: 4,
} as const;

/** Source addresses start at 127.0.1.1: loopbackAddress(SOURCE_BASE). */
export const SOURCE_BASE = 256;

/** The loopback address number `i` (0-based) as 127.0.0.(i+1), rolling over into the next octet. */
export function loopbackAddress(i: number): string {
  const v = i + 1;
  return `127.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
}

/** Splits `total` into `parts` integers differing by at most one, largest first. */
export function split(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const rest = total - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < rest ? 1 : 0));
}

export function makePlan(req: PlanRequest, host: PlannerHost, costs: ConnectionCosts = CONNECTION_COSTS): Plan {
  const refusals: string[] = [...(host.capacityProblems ?? [])];
  const warnings: string[] = [...(host.capacityWarnings ?? [])];
  const perWorker = Math.max(1, Math.floor(host.connectionsPerProcess * PLANNING.serverFill));
  const perLoadgenProc = Math.max(1, host.connectionsPerProcess);

  const neededWorkers = Math.ceil(req.n / perWorker);
  let workers = req.workers || neededWorkers;
  if (req.workers && req.workers < neededWorkers) {
    refusals.push(`${req.workers} server workers cannot hold ${req.n} connections with ${host.fdLimit} files each: need ${neededWorkers}`);
  }
  workers = Math.max(1, workers);

  const neededProcs = Math.ceil(req.n / perLoadgenProc);
  let procs = req.loadgenProcs || neededProcs;
  if (req.loadgenProcs && req.loadgenProcs < neededProcs) {
    refusals.push(`${req.loadgenProcs} load-generator processes cannot hold ${req.n} connections with ${host.fdLimit} files each: need ${neededProcs}`);
  }
  procs = Math.max(1, procs);

  // Each load generator has its own source address in 127.0.1.0/24 (away from 127.0.0.1, where every other
  // program's kernel-chosen ports live) and walks that address's port range itself (bound connects with a chosen
  // port: no kernel search), towards its own destination address (the server listens on 0.0.0.0). Measured here:
  // unbound connects from 127.0.0.1 spread over several destinations stall once about twice the range is in use.
  const portsPerAddress = Math.max(1, Math.floor(host.portsPerAddress * PLANNING.portFill));
  const loadgenCount = Math.min(req.n, Math.max(Math.ceil(req.n / portsPerAddress), Math.ceil(procs / PLANNING.maxProcsPerLoadgen)));
  procs = Math.max(procs, loadgenCount);
  const shares = split(req.n, loadgenCount);
  const procShares = split(procs, loadgenCount);
  const rates = split(req.rate, loadgenCount);
  let start = 0;
  const loadgens: LoadgenPlan[] = shares.map((connections, i) => {
    const lg: LoadgenPlan = {
      name: `loadgen-${i + 1}`,
      procs: Math.max(procShares[i]!, Math.ceil(connections / perLoadgenProc)),
      connections,
      startIndex: start,
      sourceAddresses: [loopbackAddress(SOURCE_BASE + i)],
      targets: [{ host: loopbackAddress(i), port: req.serverPort }],
    };
    start += connections;
    return lg;
  });
  if (rates.some((r) => r === 0)) warnings.push(`a ramp rate of ${req.rate}/s over ${loadgenCount} load generators gives some of them no rate; raised to 1/s`);

  if (req.serverPort >= host.portRange[0] && req.serverPort <= host.portRange[1]) {
    refusals.push(`server port ${req.serverPort} is inside the ephemeral range ${host.portRange.join('-')}: a client socket can take it`);
  }

  const totalProcs = loadgens.reduce((s, l) => s + l.procs, 0);
  const { server, loadgen, kernel } = host.expectedMemory ?? kernelExpectedMemory(req.n, host.connectionsPerProcess, costs);
  const expectedMemory = { server, loadgen, kernel };
  const processes = workers + 1 + totalProcs + loadgens.length;
  if (processes > host.cores * 8) warnings.push(`${processes} processes on ${host.cores} cores: the ramp will be CPU-bound and slow`);
  if (req.holdSeconds < 2 * req.intervalSeconds) {
    warnings.push(`a hold of ${req.holdSeconds}s with a ${req.intervalSeconds}s heartbeat sees fewer than two heartbeat chunks per connection`);
  }

  return {
    n: req.n,
    backend: req.backend,
    server: {
      engine: req.engine,
      workers,
      port: req.serverPort,
      // Exactly the loopback addresses the load generators target (127.0.0.1 among them, where the orchestrator
      // reaches the API): a flood's server listens nowhere else (before: 0.0.0.0, an open API on every interface).
      addresses: [...new Set(['127.0.0.1', ...loadgens.flatMap((l) => l.targets.map((t) => t.host))])],
      heartbeatIntervalMs: Math.round(req.intervalSeconds * 1000),
    },
    loadgens,
    transport: req.transport,
    rampRate: req.rate,
    holdSeconds: req.holdSeconds,
    fdLimitPerProcess: host.fdLimit,
    portsPerAddress,
    expectedMemory,
    refusals,
    warnings,
  };
}

/** Each load generator's share of the ramp rate (at least 1/s each). */
export function rateShares(plan: Plan): number[] {
  return split(plan.rampRate, plan.loadgens.length).map((r) => Math.max(1, r));
}
