/**
 * A plan for starting a target's server outside a flood (bench/memory holds connections with its own client): N,
 * the server processes, the heartbeat and the file limit are what a launcher reads; there are no load generators.
 */
import type { Plan } from '../plan/plan.ts';

export function standalonePlan(n: number, options: { workers?: number; heartbeatIntervalMs: number; fdLimit: number }): Plan {
  return {
    n,
    backend: 'local',
    server: { engine: '', workers: options.workers ?? 1, port: 0, addresses: ['127.0.0.1'], heartbeatIntervalMs: options.heartbeatIntervalMs },
    loadgens: [],
    transport: 'chunked',
    rampRate: 0,
    holdSeconds: 0,
    fdLimitPerProcess: options.fdLimit,
    portsPerAddress: 0,
    expectedMemory: { server: 0, loadgen: 0, kernel: 0 },
    refusals: [],
    warnings: [],
  };
}
