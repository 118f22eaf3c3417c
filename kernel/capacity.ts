/**
 * assessCapacity(limits, {n}): pure arithmetic on HostLimits. What each limit means for a run of N connections with
 * the server and the load generators on this host (both ends of every loopback connection are sockets here), the
 * largest N the host holds as it stands, and which limit stops it. The doctor and the planner's preflight both use it.
 */
import { CONNECTION_COSTS, type ConnectionCosts } from './costs.ts';
import type { HostLimits } from './host-limits.ts';
import { findingsFor } from './capacity-findings.ts';
import { connectionsPerProcess, expectedMemory, LOOPBACK_ADDRESSES, portsPerSource } from './capacity-math.ts';

export type Severity = 'ok' | 'info' | 'warn' | 'fail';

export interface Finding {
  /** Stable id: nofile, file-max, nr-open, ports, somaxconn, syn-backlog, netdev-backlog, tcp-mem, tcp-rmem, ... */
  id: string;
  /** The sysctl the finding is about, when there is one (the doctor shows the profile's value for it). */
  key?: string;
  title: string;
  /** The value as it stands ("absent" when this kernel or namespace lacks it). */
  current: string;
  severity: Severity;
  /** What it means for the lab, in numbers, at the asked N. */
  meaning: string;
  /** The largest N this limit allows, when it is a hard bound on N. */
  maxN?: number;
}

export interface CapacityOptions {
  /** Connections the run wants. */
  n: number;
  /** docker: connections cross the Docker bridge and are tracked by conntrack whatever the loopback does. */
  backend?: 'local' | 'docker';
  /** Source addresses the load generators may use; default: as many 127.0.0.x as needed (loopback has 2^24). */
  sourceAddresses?: number;
  /** Distinct server address:port pairs the clients connect to (each has its own set of 4-tuples). Default 1. */
  destinations?: number;
  costs?: ConnectionCosts;
}

export interface CapacityAssessment {
  n: number;
  /** Largest N this host holds as it stands: the smallest hard bound. */
  maxN: number;
  /** Id of the finding that sets maxN. */
  limitedBy: string;
  fits: boolean;
  /** Processes each side needs at N under the per-process file limit, and connections per process. */
  processes: { server: number; loadgen: number; connectionsPerProcess: number };
  sourceAddressesNeeded: number;
  /** Expected memory at N in bytes (process bases included), same shape as Plan.expectedMemory plus total. */
  expectedMemory: { server: number; loadgen: number; kernel: number; total: number };
  findings: Finding[];
}

/** What the host's limits mean for N connections, and the largest N it holds as it stands. */
export function assessCapacity(limits: HostLimits, options: CapacityOptions): CapacityAssessment {
  const costs = options.costs ?? CONNECTION_COSTS;
  const n = Math.max(0, Math.floor(options.n));
  const perProcess = connectionsPerProcess(limits, costs);
  const ports = portsPerSource(limits);
  const destinations = Math.max(1, options.destinations ?? 1);
  const sourceAddressesNeeded = ports ? Math.ceil(n / (ports * destinations)) : 1;
  const findings = findingsFor(limits, { n, costs, perProcess, ports, destinations, options, sourceAddressesNeeded });
  const bounded = findings.filter((f) => f.maxN !== undefined);
  const binding = bounded.reduce<Finding | undefined>((min, f) => (!min || f.maxN! < min.maxN! ? f : min), undefined);
  const maxN = binding?.maxN ?? Math.min(perProcess * LOOPBACK_ADDRESSES, Number.MAX_SAFE_INTEGER);
  return {
    n,
    maxN,
    limitedBy: binding?.id ?? 'none',
    fits: n <= maxN,
    processes: { server: Math.ceil(n / perProcess), loadgen: Math.ceil(n / perProcess), connectionsPerProcess: perProcess },
    sourceAddressesNeeded,
    expectedMemory: expectedMemory(n, perProcess, costs),
    findings,
  };
}
