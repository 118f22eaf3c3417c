/**
 * The kernel component's API for the orchestrator's planner and preflight: the same reading and arithmetic as
 * `make doctor`. readHostLimits() reads the host; assessCapacity(limits, {n}) says what the limits mean for N.
 */
export { readHostLimits, type HostLimits } from './host-limits.ts';
export {
  assessCapacity,
  type CapacityAssessment,
  type CapacityOptions,
  type Finding,
  type Severity,
} from './capacity.ts';
export { connectionsPerProcess, expectedMemory, maxNForMemory, portsPerSource } from './capacity-math.ts';
export { CONNECTION_COSTS, type ConnectionCosts } from './costs.ts';
