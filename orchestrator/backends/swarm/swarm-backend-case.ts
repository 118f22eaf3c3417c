/**
 * The swarm backend in the shared suite: a real two-node swarm (testing/two-node-swarm.ts) with the swarm lab up on
 * it (`lab-up BACKEND=swarm`, tuner skipped), load generators on both nodes. A component is killed with `docker kill`
 * on the engine of the node its task runs on; leftovers are the run's services and its gateway container. Skipped
 * where no docker CLI is installed. Run it under `flock /tmp/comet-lab-docker.lock` (it puts the main engine in swarm
 * mode for the while, and takes it out again).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Backend } from '../backend.ts';
import { noDockerCli, type BackendCase } from '../backend-case.ts';
import { makeSwarmPlan } from '../../plan/swarm-planner.ts';
import { SwarmBackend } from './swarm-backend.ts';
import { readSwarmNodes } from './swarm-nodes.ts';
import { labelNode, startTwoNodeSwarm, testProject, type TwoNodeSwarm } from './testing/two-node-swarm.ts';

const run = promisify(execFile);

export function swarmCase(): BackendCase {
  let swarm: TwoNodeSwarm | undefined;
  let env: NodeJS.ProcessEnv = {};
  const state = mkdtempSync(join(tmpdir(), 'comet-lab-swarm-case-'));
  const sh = (script: string) => run('bash', [script], { env, timeout: 400_000, maxBuffer: 1 << 24 });
  return {
    name: 'swarm',
    skip: noDockerCli(),
    n: 600,
    async setup() {
      await run('bash', ['scripts/start-dockerd.sh'], { timeout: 120_000 });
      swarm = await startTwoNodeSwarm();
      env = {
        ...process.env,
        COMET_LAB_BACKEND: 'swarm',
        COMET_LAB_PROJECT: testProject(),
        COMET_LAB_IMAGE_TAG: testProject(),
        COMET_LAB_NODE_ENGINES: `${swarm.nodeName}=${swarm.nodeEngine}`,
        COMET_LAB_TUNE: 'skip',
        COMET_LAB_STATE_DIR: state,
        COMET_LAB_PULL_TIMEOUT: '3',
        LAB_SWARM_LOADGENS_ON: 'all',
        COMET_WORKERS: '1',
        COMET_MAX_CONNECTIONS: '1000',
        COMET_INTERVAL: '1s',
      };
      // A one-node-labelled swarm: the server goes to the manager.
      await labelNode(swarm.manager, swarm.managerName, { 'comet-lab.role': 'server' });
      await sh('scripts/lab-up.sh');
    },
    async teardown() {
      try {
        if (swarm) await sh('scripts/lab-down.sh').catch(() => undefined);
      } finally {
        await swarm?.stop();
        rmSync(state, { recursive: true, force: true });
      }
    },
    make: () => new SwarmBackend({ runId: `case-${process.pid}`, env, durationSeconds: 120 }),
    async plan(n) {
      const nodes = await readSwarmNodes(swarm!.manager);
      return makeSwarmPlan({ n, backend: 'swarm', engine: '', transport: 'chunked', rate: 1000, holdSeconds: 5, intervalSeconds: 1, serverPort: 0 }, nodes, { fdLimit: 20000, loadgensOn: 'all' });
    },
    async kill(backend, name) {
      const b = backend as SwarmBackend;
      const c = b.components().find((x) => x.name === name)!;
      const engine = c.node === swarm!.nodeName ? swarm!.node : swarm!.manager;
      const slot = name.split('-')[1];
      const list = await engine.listContainers({ filters: { label: [`comet-lab.run=${b.runId}`] } });
      for (const x of list) {
        const info = await engine.getContainer(x.Id).inspect();
        if (info.Config.Env.includes(`COMET_LAB_TASK_SLOT=${slot}`)) await engine.getContainer(x.Id).kill();
      }
    },
    async leftovers(backend: Backend) {
      const b = backend as SwarmBackend;
      const gateways = await swarm!.manager.listContainers({ all: true, filters: { label: [`comet-lab.run=${b.runId}`, 'comet-lab.role=gateway'] } });
      return [...(await b.runServices()), ...gateways.map((g) => g.Names[0] ?? g.Id)];
    },
  };
}
