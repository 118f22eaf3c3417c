/**
 * From a flood config to a plan with the host's preflight folded in: plans once to learn how many destination
 * addresses the load generators spread over, asks kernel/'s assessCapacity about that layout, plans again with its
 * findings as refusals and warnings.
 */
import type { FloodConfig } from '../config/flood-config.ts';
import type { HostLimits } from '../../kernel/host-limits.ts';
import { preflight } from './host-limits.ts';
import type { Plan } from './plan.ts';
import { makePlan, type PlanRequest } from './planner.ts';

/** `limits`: the host's limits (default: read now, as `make doctor` does); tests pass fixed ones. */
export function makeFloodPlan(config: FloodConfig, backend: 'local' | 'docker', serverPort = 0, limits?: HostLimits): Plan {
  const req: PlanRequest = {
    n: config.n,
    backend,
    engine: config.engine,
    transport: config.transport,
    rate: config.rate,
    holdSeconds: config.holdSeconds,
    intervalSeconds: config.intervalSeconds,
    serverPort,
    workers: config.workers,
    loadgenProcs: config.loadgenProcs,
  };
  const first = preflight(config.n, backend, 1, limits);
  const draft = makePlan(req, { ...first.host, capacityProblems: [], capacityWarnings: [] });
  const checked = preflight(config.n, backend, draft.loadgens.length, first.limits);
  return makePlan(req, checked.host);
}
