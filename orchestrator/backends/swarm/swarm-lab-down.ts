/**
 * `make lab-down` for the swarm lab: every service the lab made (server, the runs' load generators, tuner jobs left
 * by an interruption), the gateway containers, then the tuning restored on every node (a global job puts back the
 * values its node saved), then the configs, the overlay network and the tuner's state volume on every node whose
 * engine can be reached. A node that is down is named with what could not be done there. Never leaves the swarm:
 * the swarm is the user's. Reports through `log`; never prints itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { loadProfile } from '../../../kernel/profile.ts';
import { localNodeId, nodeEngines, readSwarmNodes } from './swarm-nodes.ts';
import { LABEL, names, type SwarmSettings } from './swarm-settings.ts';
import { runTuner } from './swarm-tuner.ts';

export interface SwarmLabDown {
  nothingUp: boolean;
  /** What could not be done, each naming its node. */
  problems: string[];
}

const byLab = (project: string) => ({ filters: { label: [`${LABEL.lab}=${project}`] } });

export async function swarmLabDown(docker: Dockerode, s: SwarmSettings, log: (line: string) => void, o: { quiet?: boolean } = {}): Promise<SwarmLabDown> {
  const n = names(s.project);
  const problems: string[] = [];
  const info = (await docker.info()) as { Swarm?: { ControlAvailable?: boolean } };
  if (!info.Swarm?.ControlAvailable) {
    log('this engine manages no swarm: no swarm lab to take down');
    return { nothingUp: true, problems };
  }
  const services = await docker.listServices(byLab(s.project));
  // Gateways only: the services' task containers carry the lab's label too, and go with their services.
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL.lab}=${s.project}`, `${LABEL.role}=gateway`] } });
  const configs = await docker.listConfigs(byLab(s.project));
  const networks = (await docker.listNetworks({ filters: { name: [n.network] } })).filter((x) => x.Name === n.network);
  if (!services.length && !containers.length && !configs.length && !networks.length) {
    log(`the swarm lab '${s.project}' is not up: nothing to take down`);
    return { nothingUp: true, problems };
  }
  const nodes = await readSwarmNodes(docker);
  for (const svc of services) await docker.getService(svc.ID).remove().catch(() => undefined);
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  if (services.length || containers.length) log(`removed ${services.length} service(s) and ${containers.length} gateway container(s)`);
  // Tasks of removed services go away node by node; a down node keeps its own until it comes back.
  const down = nodes.filter((x) => x.state !== 'ready');
  for (let i = 0; i < 60; i++) {
    const removed = new Set(services.map((x) => x.ID));
    const left = ((await docker.listTasks()) as Array<{ ServiceID: string; NodeID?: string }>).filter((t) => removed.has(t.ServiceID));
    if (left.every((t) => down.some((x) => x.id === t.NodeID))) break;
    await sleep(500);
  }
  for (const x of down) problems.push(`node ${x.name} is ${x.state}: its tasks end with their --duration, and its tuning stays until it is back (then make lab-down again)`);

  // The tuning: restored where the profile config says a tuner ran (it is removed only once the restore ran).
  if (configs.some((c) => c.Spec?.Name?.startsWith(`${s.project}_profile_`)) && s.tune !== 'skip') {
    try {
      const results = await runTuner(docker, { project: s.project, networkId: '', nofile: s.nofile, profile: loadProfile(s.profile).settings }, {
        image: s.tunerImage,
        mode: 'restore',
        profile: s.profile,
        nodes,
        timeoutMs: 60_000,
      });
      for (const r of results) {
        if (!o.quiet) log(`untune on ${r.node}: ${r.state}`);
        if (!o.quiet) for (const line of r.lines) log(`  ${line}`);
        if (r.state !== 'complete') problems.push(`node ${r.node}: the sysctls were not restored (${r.state})`);
      }
    } catch (err) {
      problems.push(`restoring the sysctls failed: ${(err as Error).message}`);
    }
  }

  for (const c of await docker.listConfigs(byLab(s.project))) {
    await docker.getConfig(c.ID).remove().catch((err: Error) => problems.push(`config ${c.Spec?.Name}: ${err.message}`));
  }
  for (const net of networks) {
    let gone = false;
    for (let i = 0; i < 20 && !gone; i++) {
      gone = await docker.getNetwork(net.Id).remove().then(() => true, async (err: { statusCode?: number }) => {
        if (err.statusCode === 404) return true;
        await sleep(500);
        return false;
      });
    }
    if (!gone) problems.push(`network ${n.network} is still in use (tasks on a node that is down?)`);
  }
  // Each reachable node removes a service's task containers a moment after its tasks go, but keeps those of a
  // finished job (measured here: the tuner's, engine 20.10): whatever the lab's services left is removed here, then
  // the node's tuner-state volume.
  const engines = nodeEngines(docker, await localNodeId(docker), nodes, s.nodeEngines);
  for (const [id, engine] of engines) {
    const node = nodes.find((x) => x.id === id);
    if (node?.state !== 'ready') continue;
    const list = async () => engine.listContainers({ all: true, ...byLab(s.project) }).catch(() => [] as Dockerode.ContainerInfo[]);
    for (let i = 0; i < 12 && (await list()).some((c) => c.State === 'running'); i++) await sleep(250);
    for (const c of await list()) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    const left = (await list()).map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''));
    if (left.length) problems.push(`node ${node.name}: containers still there: ${left.join(', ')}`);
    await engine.getVolume(n.tunerState).remove().catch(() => undefined);
  }
  if (!o.quiet) {
    for (const p of problems) log(`warning: ${p}`);
    log(`swarm lab '${s.project}' is down: services, gateway, configs, network ${n.network}${problems.length ? ` (${problems.length} problem(s) above)` : ''}`);
  }
  return { nothingUp: false, problems };
}
