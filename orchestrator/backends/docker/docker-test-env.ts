import type { Plan } from '../../plan/plan.ts';

/**
 * The environment the Docker tests run lab-up, lab-down and the backend with: a compose project of their own, on a
 * subnet and host ports apart from a user's lab (172.28.0.0/16, 18000, ...), with the tuner in dry-run so tests never
 * change the host's sysctls. The test files run one after another, so they may share subnet and ports.
 */
export function dockerTestEnv(project: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    COMET_LAB_PROJECT: project,
    COMET_LAB_SUBNET: '172.29.0.0/16',
    COMET_LAB_SERVER_PORT: '28000',
    COMET_LAB_PROMETHEUS_PORT: '29090',
    COMET_LAB_GRAFANA_PORT: '23000',
    COMET_LAB_TUNE: 'dry-run',
    COMET_LAB_PULL_TIMEOUT: '5',
    COMET_LAB_STATE_DIR: '/tmp/comet-lab-test-state', // the lab's secrets and saved sysctls, away from a user's lab
    ...extra,
  };
}

/**
 * The plan the Docker tests give the docker backend: `n` connections in one load-generator entry (the backend
 * spreads them over its containers), a 5 s hold, one server worker on port 8000; the backend adopts the lab's
 * server as it runs (engine, workers), so no engine is named.
 */
export function dockerTestPlan(n: number, rampRate: number): Plan {
  return {
    n,
    backend: 'docker',
    server: { engine: '', workers: 1, port: 8000, addresses: ['0.0.0.0'], heartbeatIntervalMs: 1000 },
    loadgens: [{ name: 'loadgen-1', procs: 1, connections: n, startIndex: 0, sourceAddresses: [], targets: [] }],
    transport: 'chunked',
    rampRate,
    holdSeconds: 5,
    fdLimitPerProcess: 20000,
    portsPerAddress: 49766,
    expectedMemory: { server: 0, loadgen: 0, kernel: 0 },
    refusals: [],
    warnings: [],
  };
}
