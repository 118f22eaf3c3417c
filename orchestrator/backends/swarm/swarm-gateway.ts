/**
 * The manager host's way to the tasks on the overlay: one container per run on the manager's engine, on the default
 * bridge (which the host reaches) and attached to the lab's overlay (attachable for this), forwarding one port per
 * component (docker/swarm-gateway.mjs). Published ports would need the routing mesh, hence IPVS, which this kind of
 * kernel lacks; `mode: host` publishing would put the load generators' control ports on every node's interfaces.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { LabError } from '../../../shared/errors.ts';
import { parseReadyLine, readyPrefix } from '../../../shared/ready-line.ts';
import { LABEL } from './swarm-settings.ts';
import { demuxLogs } from './swarm-tasks.ts';

const SOURCE = readFileSync(new URL('../../../docker/swarm-gateway.mjs', import.meta.url), 'utf8');

export interface GatewayRoute {
  listen: number;
  host: string;
  port: number;
}

export interface Gateway {
  id: string;
  /** The gateway's bridge address: the host's side of every route. */
  address: string;
  url(listen: number): string;
}

/** The dotted prefix every address of the overlay subnet starts with (by whole octets of its prefix length). */
export function overlayPrefix(subnet: string): string {
  const [ip, bits] = subnet.split('/');
  const octets = Math.max(1, Math.floor(Number(bits) / 8));
  return `${ip!.split('.').slice(0, octets).join('.')}.`;
}

export async function startGateway(
  docker: Dockerode,
  o: { name: string; project: string; runId: string; image: string; networkId: string; subnet: string; routes: GatewayRoute[]; timeoutMs?: number },
): Promise<Gateway> {
  const c = await docker.createContainer({
    name: o.name,
    Image: o.image,
    Entrypoint: ['node', '--input-type=module', '-e', SOURCE],
    Env: [`GW_MAP=${o.routes.map((r) => `${r.listen}=${r.host}:${r.port}`).join(',')}`, `GW_OVERLAY_PREFIX=${overlayPrefix(o.subnet)}`],
    Labels: { [LABEL.lab]: o.project, [LABEL.role]: 'gateway', [LABEL.run]: o.runId },
    HostConfig: { NetworkMode: 'bridge', Init: true, Ulimits: [{ Name: 'nofile', Soft: 20000, Hard: 20000 }] },
  });
  try {
    await docker.getNetwork(o.networkId).connect({ Container: c.id });
    await c.start();
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    for (;;) {
      const lines = demuxLogs((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer);
      const ready = lines.map((l) => parseReadyLine<{ address: string }>(l, readyPrefix('gateway'))).find((r) => r !== undefined);
      if (ready) {
        const { address } = ready;
        return { id: c.id, address, url: (listen) => `http://${address}:${listen}` };
      }
      const state = (await c.inspect()).State;
      if (!state.Running || Date.now() > deadline) {
        throw new LabError('LAB_ERR_GATEWAY', `the run's gateway container did not start: ${state.Running ? 'no ready line' : `exited ${state.ExitCode}`}: ${lines.slice(-3).join(' | ')}`);
      }
      await sleep(200);
    }
  } catch (err) {
    await c.remove({ force: true }).catch(() => undefined);
    throw err;
  }
}
