/**
 * The swarm lab as `make lab-up BACKEND=swarm` leaves it, found again by the swarm backend: the overlay network, the
 * server service and its one task (the node it runs on, its overlay address, its flags and admin token). Also
 * `isSwarmLabUp()` for `--backend auto`.
 */
import type Dockerode from 'dockerode';
import { EXIT, LabError } from '../../../shared/errors.ts';
import { connectDocker } from '../docker/docker-lab.ts';
import { LABEL, names, SERVER_PORT } from './swarm-settings.ts';
import { currentTasks, serviceTasks, taskAddress } from './swarm-tasks.ts';

export interface SwarmLab {
  project: string;
  network: { id: string; name: string; subnet: string };
  server: {
    serviceId: string;
    taskId: string;
    nodeId: string;
    containerId: string;
    address: string;
    port: number;
    args: string[];
    adminToken?: string;
    nofile?: number;
  };
}

const notUp = (project: string, why: string) =>
  new LabError('LAB_ERR_LAB_NOT_UP', `the swarm lab '${project}' is not up (${why})`, { exitCode: EXIT.preflight, hint: 'make lab-up BACKEND=swarm, or --backend local' });

interface ServiceInfo {
  ID: string;
  Spec: { TaskTemplate: { ContainerSpec: { Args?: string[]; Env?: string[]; Ulimits?: Array<{ Name: string; Hard: number }> } } };
}

export async function findSwarmLab(docker: Dockerode, project: string): Promise<SwarmLab> {
  const n = names(project);
  const services = (await docker.listServices({ filters: { name: [n.server], label: [`${LABEL.lab}=${project}`] } })) as ServiceInfo[];
  const svc = services[0];
  if (!svc) throw notUp(project, `no service ${n.server}`);
  const net = (await docker.listNetworks({ filters: { name: [n.network] } })).find((x) => x.Name === n.network);
  const subnet = (net?.IPAM?.Config ?? [])[0]?.Subnet;
  if (!net || !subnet) throw notUp(project, `no overlay network ${n.network}`);
  const task = currentTasks(await serviceTasks(docker, svc.ID)).find((t) => t.Status.State === 'running');
  if (!task) throw notUp(project, `the server service has no running task`);
  const address = taskAddress(task, net.Id);
  if (!address) throw notUp(project, `the server task has no address on ${n.network}`);
  const spec = svc.Spec.TaskTemplate.ContainerSpec;
  return {
    project,
    network: { id: net.Id, name: n.network, subnet },
    server: {
      serviceId: svc.ID,
      taskId: task.ID,
      nodeId: task.NodeID ?? '',
      containerId: task.Status.ContainerStatus?.ContainerID ?? '',
      address,
      port: SERVER_PORT,
      args: spec.Args ?? [],
      adminToken: spec.Env?.find((e) => e.startsWith('COMET_ADMIN_TOKEN='))?.slice('COMET_ADMIN_TOKEN='.length),
      nofile: spec.Ulimits?.find((u) => u.Name === 'nofile')?.Hard,
    },
  };
}

/** True when the local engine manages a swarm whose lab server task runs. Never throws; answers within a few seconds. */
export async function isSwarmLabUp(project = process.env.COMET_LAB_PROJECT || 'comet-lab'): Promise<boolean> {
  try {
    const docker = await connectDocker({ timeoutMs: 2000 });
    const info = (await docker.info()) as { Swarm?: { ControlAvailable?: boolean } };
    if (!info.Swarm?.ControlAvailable) return false;
    await findSwarmLab(docker, project);
    return true;
  } catch {
    return false;
  }
}
