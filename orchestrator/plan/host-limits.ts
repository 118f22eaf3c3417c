/**
 * The planner's preflight: reads this host through kernel/ (the same readHostLimits() and assessCapacity() that
 * `make doctor` uses) and turns them into the PlannerHost the pure planner takes. Failed findings become refusals,
 * warnings stay warnings, each in the doctor's own words.
 */
import { readHostLimits, type HostLimits } from '../../kernel/host-limits.ts';
import { assessCapacity } from '../../kernel/capacity.ts';
import { connectionsPerProcess, portsPerSource } from '../../kernel/capacity-math.ts';
import type { PlannerHost } from './planner.ts';

export interface Preflight {
  host: PlannerHost;
  limits: HostLimits;
}

/** `destinations`: distinct server addresses the load generators spread over (the planner gives one per loadgen). */
export function preflight(n: number, backend: 'local' | 'docker', destinations: number, limits: HostLimits = readHostLimits()): Preflight {
  const assessment = assessCapacity(limits, { n, backend, destinations });
  const say = (f: { title: string; current: string; meaning: string }) => `${f.title} (${f.current}): ${f.meaning}`;
  const portRange: [number, number] = limits.portRange ? [limits.portRange.low, limits.portRange.high] : [32768, 60999];
  return {
    limits,
    host: {
      connectionsPerProcess: connectionsPerProcess(limits),
      fdLimit: limits.nofile.hard,
      portRange,
      portsPerAddress: portsPerSource(limits) ?? portRange[1] - portRange[0] + 1,
      memAvailableBytes: Math.min(limits.memAvailableBytes ?? Infinity, limits.cgroupMemoryLimitBytes ?? Infinity),
      cores: limits.cores,
      expectedMemory: assessment.expectedMemory,
      capacityProblems: assessment.findings.filter((f) => f.severity === 'fail').map(say),
      capacityWarnings: assessment.findings.filter((f) => f.severity === 'warn').map(say),
    },
  };
}
