/**
 * The planner: pure arithmetic from the flood's options and the host's limits to a Plan. No I/O, so every number
 * it chooses is unit-tested (planner.test.ts) and printed by `orchestrator/cli.ts plan` before anything starts.
 */
import type { Transport } from '../../shared/contracts.ts';
import type { LoadgenPlan, Plan } from './plan.ts';

/** What the planner needs to know about the host; filled from kernel/'s readHostLimits() by host-limits.ts. */
export interface PlannerHost {
  /** Open files one process may hold (the hard `nofile` limit; children raise their soft limit to it). */
  fdLimit: number;
  /** `net.ipv4.ip_local_port_range`, inclusive. */
  portRange: [number, number];
  memAvailableBytes: number;
  cores: number;
  /** `net.netfilter.nf_conntrack_max` when conntrack is loaded (every loopback connection takes an entry). */
  conntrackMax?: number;
  /** Problems and warnings from kernel/'s assessCapacity(), passed through as refusals and warnings. */
  capacityProblems?: string[];
  capacityWarnings?: string[];
}

export interface PlanRequest {
  n: number;
  backend: 'local' | 'docker';
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
 * Headroom and costs. Files: a process also holds its own pipes, the control listener, log files and libuv's
 * descriptors, and reusePort spreads accepts by hash (not evenly), so a server worker is planned to 90% of what is
 * left after a reserve. Ports: TIME_WAIT sockets from earlier runs and other tests take some, so 90% of the range.
 * Memory costs are this lab's measurements on 2-core/24 GiB Debian 12 hosts (see README); they only feed the
 * expected-memory figure and the refusal when it would not fit.
 */
export const PLANNING = {
  fdReserve: 1000,
  serverFill: 0.9,
  portFill: 0.9,
  maxProcsPerLoadgen: 4,
  memoryFill: 0.8,
  serverBaseBytes: 60 * 2 ** 20, // per worker (Node heap + code) and once more for the supervisor
  serverBytesPerConnection: 4 * 1024,
  loadgenBaseBytes: 50 * 2 ** 20, // per process
  loadgenBytesPerConnection: 3 * 1024,
  kernelBytesPerConnection: 4 * 1024, // two sockets (client and server end) with empty queues
} as const;

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

export function makePlan(req: PlanRequest, host: PlannerHost): Plan {
  const refusals: string[] = [...(host.capacityProblems ?? [])];
  const warnings: string[] = [...(host.capacityWarnings ?? [])];
  const usableFds = host.fdLimit - PLANNING.fdReserve;
  if (usableFds < 100) refusals.push(`the open-file limit per process is ${host.fdLimit}: too low for a comet lab (raise nofile)`);
  const perWorker = Math.max(1, Math.floor(usableFds * PLANNING.serverFill));
  const perLoadgenProc = Math.max(1, usableFds);

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

  // Each load generator connects to its own destination address (the server listens on 0.0.0.0), so each has the
  // whole ephemeral range for itself and connects unbound (the kernel's fast path).
  const rangeSize = host.portRange[1] - host.portRange[0] + 1;
  const portsPerAddress = Math.max(1, Math.floor(rangeSize * PLANNING.portFill));
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
      sourceAddresses: [],
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
  const expectedMemory = {
    server: (workers + 1) * PLANNING.serverBaseBytes + req.n * PLANNING.serverBytesPerConnection,
    loadgen: totalProcs * PLANNING.loadgenBaseBytes + req.n * PLANNING.loadgenBytesPerConnection,
    kernel: req.n * PLANNING.kernelBytesPerConnection,
  };
  const expectedTotal = expectedMemory.server + expectedMemory.loadgen + expectedMemory.kernel;
  const memBudget = host.memAvailableBytes * PLANNING.memoryFill;
  if (expectedTotal > memBudget) {
    refusals.push(`expected memory ${gib(expectedTotal)} exceeds ${PLANNING.memoryFill * 100}% of the available ${gib(host.memAvailableBytes)}`);
  }
  if (host.conntrackMax !== undefined && req.n > host.conntrackMax * 0.9) {
    refusals.push(`nf_conntrack_max is ${host.conntrackMax}: ${req.n} loopback connections would fill the conntrack table (raise it, or unload conntrack)`);
  }
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
      addresses: ['0.0.0.0'],
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

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
