/**
 * A flood's plan on the swarm: the nodes as the manager (the local engine) lists them, then the pure per-node
 * planner (swarm-planner.ts). LAB_ERR_NO_SWARM when the local engine manages no swarm.
 */
import type { FloodConfig } from '../config/flood-config.ts';
import { connectDocker } from '../backends/docker/docker-lab.ts';
import { readSwarmNodes, requireManager } from '../backends/swarm/swarm-nodes.ts';
import { swarmSettings } from '../backends/swarm/swarm-settings.ts';
import type { Plan } from './plan.ts';
import { makeSwarmPlan } from './swarm-planner.ts';

export async function makeSwarmFloodPlan(config: FloodConfig, env: NodeJS.ProcessEnv = process.env): Promise<Plan> {
  const settings = swarmSettings(env);
  const docker = await connectDocker();
  await requireManager(docker);
  const nodes = await readSwarmNodes(docker);
  return makeSwarmPlan(
    {
      n: config.n,
      backend: 'swarm',
      engine: config.engine,
      transport: config.transport,
      rate: config.rate,
      holdSeconds: config.holdSeconds,
      intervalSeconds: config.intervalSeconds,
      serverPort: 0,
      workers: config.workers,
      loadgenProcs: config.loadgenProcs,
    },
    nodes,
    { loadgensOn: settings.loadgensOn, fdLimit: settings.nofile, minReplicas: Number(env.LAB_SWARM_LOADGENS) || undefined },
  );
}
