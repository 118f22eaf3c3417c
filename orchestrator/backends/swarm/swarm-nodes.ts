/**
 * The swarm as the manager (the local engine) sees it: whether this engine can manage one, its nodes with cores,
 * memory and labels (what the planner plans per node), and a client for each node's own engine where one was given
 * (COMET_LAB_NODE_ENGINES: images are loaded through it and memory is cross-checked against its stats).
 */
import Dockerode from 'dockerode';
import { EXIT, LabError } from '../../../shared/errors.ts';
import type { SwarmNode } from '../../plan/swarm-planner.ts';

interface NodeSummary {
  ID: string;
  Spec: { Role: string; Availability: string; Labels?: Record<string, string> };
  Description: { Hostname: string; Resources: { NanoCPUs: number; MemoryBytes: number } };
  Status: { State: string; Addr?: string; Message?: string };
}

/** LAB_ERR_NO_SWARM unless the engine is an active swarm manager. */
export async function requireManager(docker: Dockerode): Promise<void> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
    throw new LabError('LAB_ERR_NO_SWARM', `this Docker engine is not a swarm manager (swarm state: ${info.Swarm?.LocalNodeState ?? 'unknown'})`, {
      exitCode: EXIT.preflight,
      hint: 'docker swarm init --advertise-addr <this host\'s address>, then `docker swarm join` on each other host (README: Across several hosts)',
    });
  }
}

export async function readSwarmNodes(docker: Dockerode): Promise<SwarmNode[]> {
  const list = (await docker.listNodes()) as NodeSummary[];
  return list
    .map((n) => ({
      id: n.ID,
      name: n.Description.Hostname,
      addr: n.Status.Addr ?? '',
      role: n.Spec.Role === 'manager' ? ('manager' as const) : ('worker' as const),
      state: n.Status.State,
      availability: n.Spec.Availability,
      cores: n.Description.Resources.NanoCPUs / 1e9,
      memoryBytes: n.Description.Resources.MemoryBytes,
      labels: n.Spec.Labels ?? {},
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A client for an engine URL: unix:///path, tcp://host:port, ssh://user@host[:port] (docker-modem's ssh). */
export function engineClient(url: string): Dockerode {
  if (url.startsWith('unix://')) return new Dockerode({ socketPath: url.slice('unix://'.length) });
  const u = new URL(url);
  if (u.protocol === 'ssh:') {
    return new Dockerode({ protocol: 'ssh', host: u.hostname, port: Number(u.port || 22), username: u.username || undefined } as Dockerode.DockerOptions);
  }
  return new Dockerode({ protocol: 'http', host: u.hostname, port: Number(u.port) });
}

/** Engines by node id: the manager's own (the local engine) and every node named in `engines` that is in the swarm. */
export function nodeEngines(local: Dockerode, localNodeId: string, nodes: SwarmNode[], engines: Map<string, string>): Map<string, Dockerode> {
  const out = new Map<string, Dockerode>([[localNodeId, local]]);
  for (const n of nodes) {
    const url = engines.get(n.name);
    if (url && n.id !== localNodeId) out.set(n.id, engineClient(url));
  }
  return out;
}

/** The local engine's node id in the swarm. */
export async function localNodeId(docker: Dockerode): Promise<string> {
  const info = (await docker.info()) as { Swarm?: { NodeID?: string } };
  return info.Swarm?.NodeID ?? '';
}
