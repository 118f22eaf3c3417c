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

/**
 * LAB_ERR_SWARM_GOSSIP unless the manager's engine gossips with every ready node within `timeoutMs`: its view of the
 * `ingress` network (every node has it) lists as many peers as there are ready nodes. Measured here (dockerd 20.10):
 * a swarm made right after an earlier one left sometimes gets two network agents at once in the manager's engine
 * ("Initializing Libnetwork Agent" twice in its log, then "memberlist: ... No installed keys could decrypt the
 * message" from the other node every 6 s); its nodes show Ready, services start, but no task reaches a task on another
 * node (EHOSTUNREACH on the overlay). A healthy two-node swarm lists both peers 1-2 s after the join; a restart of
 * the manager's dockerd clears the state.
 */
export async function requireGossip(docker: Dockerode, readyNodes: number, timeoutMs = 20_000): Promise<void> {
  if (readyNodes < 2) return;
  const deadline = Date.now() + timeoutMs;
  let peers: Array<{ IP: string }> = [];
  for (;;) {
    try {
      const ingress = docker.getNetwork('ingress');
      // dockerode's types miss inspect's options; the Engine API takes ?verbose=true (peers per network).
      const inspect = ingress.inspect as unknown as (options: { verbose: boolean }) => Promise<{ Peers?: Array<{ IP: string }> | null }>;
      peers = (await inspect.call(ingress, { verbose: true })).Peers ?? [];
    } catch {
      peers = []; // a young swarm may not have made ingress yet
    }
    if (peers.length >= readyNodes) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new LabError('LAB_ERR_SWARM_GOSSIP', `the manager's engine gossips with ${peers.length} of ${readyNodes} ready nodes (${peers.map((p) => p.IP).join(', ') || 'none'}): tasks on different nodes could not reach each other over the overlay`, {
    exitCode: EXIT.preflight,
    hint: "restart dockerd on the manager (a dockerd 20.10 race after an earlier swarm left: its log says 'No installed keys could decrypt the message'), then lab-up again",
  });
}
