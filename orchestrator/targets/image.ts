/**
 * `image:<name>` (Docker backend): a user's container image as the server container, on the Docker lab's network at
 * an address of its own, its memory from `docker stats` (the backend's probe of the server container). The server
 * must listen on the image's one EXPOSEd TCP port (also given to it as $PORT). Ready when that port accepts from the
 * host; a container that exits first fails with its last output lines. It carries the run's labels, so the backend
 * removes it with the load generators, and `make lab-down` finds it.
 */
import type Dockerode from 'dockerode';
import { TRANSPORT_NAMES, type Transport } from '../../shared/contracts.ts';
import { EXIT, LabError } from '../../shared/errors.ts';
import { STREAM_PREFIX } from '../backends/component-commands.ts';
import { canConnect } from './server-process.ts';
import type { DockerLaunch, DockerLaunched, Target } from './target.ts';
import { setTimeout as sleep } from 'node:timers/promises';

const READY_SECONDS = 30;

/** The one TCP port the image EXPOSEs, or why there is not exactly one. */
export function exposedPort(image: string, exposed: Record<string, unknown> | undefined): number | string {
  const tcp = Object.keys(exposed ?? {}).filter((k) => k.endsWith('/tcp')).map((k) => Number(k.split('/')[0]));
  if (tcp.length === 1) return tcp[0]!;
  return tcp.length === 0
    ? `image ${image} EXPOSEs no TCP port: add \`EXPOSE <port>\` to its Dockerfile (the port its server listens on)`
    : `image ${image} EXPOSEs ${tcp.length} TCP ports (${tcp.join(', ')}): the lab cannot tell which one is the server's`;
}

async function lastOutput(container: Dockerode.Container): Promise<string> {
  try {
    const buf = (await container.logs({ stdout: true, stderr: true, tail: 10 })) as unknown as Buffer;
    // The multiplexed stream's 8-byte frame headers carry no text: drop them.
    return buf.toString('latin1').replace(/[\x00-\x08\x0b-\x1f]/g, '').trim();
  } catch {
    return '';
  }
}

export function imageTarget(image: string): Target {
  let port: number | undefined;
  const launch = async (l: DockerLaunch): Promise<DockerLaunched> => {
    if (port === undefined) throw new Error('image target: preflight() did not run');
    const container = await l.docker.createContainer({
      name: l.name,
      Image: image,
      Labels: l.labels,
      Env: [`PORT=${port}`],
      ExposedPorts: { [`${port}/tcp`]: {} },
      HostConfig: { NetworkMode: l.network, Ulimits: [{ Name: 'nofile', Soft: l.fdLimit, Hard: l.fdLimit }], Init: true },
      NetworkingConfig: { EndpointsConfig: { [l.network]: { IPAMConfig: { IPv4Address: l.ip } } } },
    });
    await container.start();
    const deadline = Date.now() + READY_SECONDS * 1000;
    for (;;) {
      if (await canConnect(l.ip, port, 1000)) return { containerId: container.id, port };
      const state = (await container.inspect()).State;
      if (!state.Running || Date.now() > deadline) {
        const out = await lastOutput(container);
        const why = state.Running ? `was not listening on ${l.ip}:${port} within ${READY_SECONDS} s` : `exited (code ${state.ExitCode}) before listening on port ${port}`;
        throw new LabError('LAB_ERR_TARGET_START', `image:${image}: the container ${why}${out ? `; its last output:\n  ${out.split('\n').join('\n  ')}` : ''}`);
      }
      await sleep(100);
    }
  };
  return {
    kind: 'image',
    name: `image:${image}`,
    label: `image-${image.replace(/[^A-Za-z0-9_.-]+/g, '-')}`,
    supports: { transports: [...TRANSPORT_NAMES], sends: false, broadcast: false, heartbeat: false },
    backends: ['docker'],
    description: `the image ${image} as the server container on the Docker lab's network (its EXPOSEd port), memory from docker stats`,
    loadgenFlags: [],
    streamPath: (transport: Transport) => `/${STREAM_PREFIX[transport]}/{i}`,
    async preflight() {
      const { connectDocker } = await import('../backends/docker/docker-lab.ts');
      const docker = await connectDocker();
      let info: Dockerode.ImageInspectInfo;
      try {
        info = await docker.getImage(image).inspect();
      } catch {
        throw new LabError('LAB_ERR_NO_IMAGE', `image:${image}: no such image in the Docker engine`, {
          exitCode: EXIT.usage,
          hint: 'docker images lists them; build it first (docker build -t <name> .): the lab pulls nothing',
        });
      }
      const p = exposedPort(image, info.Config?.ExposedPorts as Record<string, unknown> | undefined);
      if (typeof p === 'string') throw new LabError('LAB_ERR_USAGE', p, { exitCode: EXIT.usage });
      port = p;
    },
    adaptPlan: (plan) => {
      plan.server.engine = 'image';
      plan.server.workers = 1;
    },
    launchDocker: launch,
  };
}
