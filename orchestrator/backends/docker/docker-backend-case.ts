/**
 * The docker backend in the shared suite: `lab-up` as its own compose project on the Docker tests' subnet (tuner in
 * dry-run), two load-generator containers, `lab-down` afterwards. A component is killed with `docker kill`; leftovers
 * are the run's containers. Skipped where no docker CLI is installed. Everything here talks to the engine: run it
 * under `flock /tmp/comet-lab-docker.lock`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Backend } from '../backend.ts';
import { noDockerCli, type BackendCase } from '../backend-case.ts';
import { DockerBackend } from './docker-backend.ts';
import { dockerTestEnv, dockerTestPlan } from './docker-test-env.ts';
import { connectDocker } from './docker-lab.ts';

const run = promisify(execFile);

export function dockerCase(): BackendCase {
  const project = `clcase${process.pid}`;
  const env = dockerTestEnv(project, { COMET_WORKERS: '1', COMET_INTERVAL: '1s' });
  const sh = (script: string) => run('bash', [script], { env, timeout: 300_000, maxBuffer: 1 << 24 });
  return {
    name: 'docker',
    skip: noDockerCli(),
    n: 600,
    async setup() {
      await run('bash', ['scripts/start-dockerd.sh'], { timeout: 120_000 });
      await sh('scripts/lab-up.sh');
    },
    async teardown() {
      await sh('scripts/lab-down.sh');
    },
    make: () => new DockerBackend({ project, minContainers: 2, durationSeconds: 120 }),
    plan: (n) => dockerTestPlan(n, 1000),
    async kill(backend, name) {
      const docker = await connectDocker();
      const runId = (backend as DockerBackend).runId;
      const [c] = await docker.listContainers({ filters: { label: [`comet-lab.run=${runId}`, `comet-lab.component=${name}`] } });
      if (!c) throw new Error(`no running container for ${name}`);
      await docker.getContainer(c.Id).kill();
    },
    async leftovers(backend: Backend) {
      return (backend as DockerBackend).containerIds();
    },
  };
}
