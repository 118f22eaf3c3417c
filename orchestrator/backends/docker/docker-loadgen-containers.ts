/**
 * Load-generator containers: created with a fixed address on the lab network, the lab's labels (so `make lab-down`
 * and Prometheus' docker_sd find them), the container file limit and a wide ephemeral port range; started; waited
 * for until their ready line; removed. Compose does not know these containers, so removal is always ours.
 */
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import type { Transport } from '../../../shared/contracts.ts';
import { LabError } from '../../../shared/errors.ts';
import { parseReadyLine, readyPrefix } from '../../../shared/ready-line.ts';
import { STREAM_PREFIX } from '../component-commands.ts';
import type { LoadgenContainerSpec } from './docker-layout.ts';
import { LABELS, type LabInfo } from './docker-lab.ts';

const run = promisify(execFile);

export const CONTROL_PORT = 9100;
export const LOADGEN_IMAGE = 'comet-lab/loadgen:latest';
/** Ephemeral ports inside a load-generator container (its own namespace). */
export const LOADGEN_PORT_RANGE: [number, number] = [10240, 65535];

export interface LoadgenContainerOptions {
  runId: string;
  image: string;
  fdLimit: number;
  transport: Transport;
  durationSeconds: number;
  /** cgroup v1: a TCP kernel-memory limit switches on the group's socket accounting (memory.kmem.tcp.*). */
  accountTcp: boolean;
  /** The control API's token (LOADGEN_CONTROL_TOKEN in the container): its control port listens on the lab network. */
  controlToken: string;
}

/**
 * The loadgen command line (loadgen/cli.ts; as component-commands.ts builds it for processes), the server addressed by
 * its lab address. --hold: the load generator opens nothing until the run's POST /ramp.
 */
export function loadgenArgs(lab: LabInfo, spec: LoadgenContainerSpec, opts: LoadgenContainerOptions): string[] {
  return [
    `--url=http://${lab.serverIp}:${lab.serverPort}/${STREAM_PREFIX[opts.transport]}/{i}`,
    `--start=${spec.startIndex}`,
    `--count=${spec.connections}`,
    `--procs=${spec.procs}`,
    `--control-port=${CONTROL_PORT}`,
    `--control-host=0.0.0.0`,
    '--hold',
    `--transport=${opts.transport}`,
    `--duration=${Math.ceil(opts.durationSeconds)}s`,
    ...(spec.extraIps.length ? [`--source-ips=${[spec.ip, ...spec.extraIps].join(',')}`] : []),
  ];
}

export async function createLoadgenContainer(
  docker: Dockerode,
  lab: LabInfo,
  spec: LoadgenContainerSpec,
  opts: LoadgenContainerOptions,
): Promise<Dockerode.Container> {
  const hostConfig: Dockerode.HostConfig & { KernelMemoryTCP?: number } = {
    NetworkMode: lab.network,
    Ulimits: [{ Name: 'nofile', Soft: opts.fdLimit, Hard: opts.fdLimit }],
    // Namespaced: only this container's network namespace; the netns values of kernel/profiles/c1m.conf. The port
    // range gives 55,296 connections per container address and leaves the control port (9100) outside it.
    Sysctls: {
      'net.ipv4.ip_local_port_range': `${LOADGEN_PORT_RANGE[0]} ${LOADGEN_PORT_RANGE[1]}`,
      'net.ipv4.tcp_rmem': '4096 4096 16777216',
      'net.ipv4.tcp_wmem': '4096 4096 16777216',
      'net.ipv4.tcp_tw_reuse': '1',
      // Extra source addresses are added just after the start (addExtraAddresses); the load generator binds them at
      // its start, which this namespaced switch allows before they exist. Its ramp waits for POST /ramp anyway.
      ...(spec.extraIps.length ? { 'net.ipv4.ip_nonlocal_bind': '1' } : {}),
    },
    Init: true, // docker-init as PID 1 forwards signals (Node as PID 1 ignores SIGTERM)
  };
  if (opts.accountTcp) hostConfig.KernelMemoryTCP = 2 ** 40;
  return docker.createContainer({
    name: `${lab.project}-${opts.runId}-${spec.name}`,
    Image: opts.image,
    Cmd: loadgenArgs(lab, spec, opts),
    Env: [`LOADGEN_CONTROL_TOKEN=${opts.controlToken}`],
    Labels: {
      [LABELS.lab]: lab.project,
      [LABELS.role]: 'loadgen',
      [LABELS.run]: opts.runId,
      [LABELS.controlPort]: String(CONTROL_PORT),
      'comet-lab.component': spec.name,
    },
    ExposedPorts: { [`${CONTROL_PORT}/tcp`]: {} },
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: { [lab.network]: { IPAMConfig: { IPv4Address: spec.ip } } } },
  });
}

/**
 * Follows the container's output until `comet-lab loadgen ready {json}` and returns the JSON; LAB_ERR_LOADGEN_START
 * with the last output lines when the container exits first or the time runs out; the signal's reason when it aborts.
 */
export async function waitReady(docker: Dockerode, container: Dockerode.Container, name: string, timeoutMs: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
  signal?.throwIfAborted();
  const raw = (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream & { destroy: () => void };
  const out = new PassThrough();
  docker.modem.demuxStream(raw, out, out);
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err?: Error, json?: Record<string, unknown>) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      raw.destroy();
      if (err) reject(err);
      else resolve(json!);
    };
    const fail = (why: string) =>
      finish(new LabError('LAB_ERR_LOADGEN_START', `load generator ${name} ${why}; its last output:\n${tail.join('\n') || '(none)'}`));
    const timer = setTimeout(() => fail(`gave no ready line within ${timeoutMs} ms`), timeoutMs);
    // Ctrl-C: stop following at once with the signal's reason (the backend's stop() removes the container).
    const onAbort = () => finish(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    out.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let ready: Record<string, unknown> | undefined;
        try {
          ready = parseReadyLine(line, readyPrefix('loadgen'));
        } catch {
          return fail(`printed a ready line that is not JSON: ${line}`);
        }
        if (ready) return finish(undefined, ready);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    raw.on('end', () => fail('exited before it was ready'));
    raw.on('error', (err: Error) => fail(`output could not be read (${err.message})`));
  });
}

/**
 * Adds the spec's extra source addresses to the container's eth0, from the host (nsenter into its network namespace:
 * the image has no `ip`, and the container needs no NET_ADMIN). Needs root on the engine's host.
 */
export async function addExtraAddresses(container: Dockerode.Container, spec: LoadgenContainerSpec, prefixLength: number): Promise<void> {
  if (spec.extraIps.length === 0) return;
  const pid = (await container.inspect()).State.Pid;
  for (const ip of spec.extraIps) {
    try {
      await run('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'add', `${ip}/${prefixLength}`, 'dev', 'eth0'], { timeout: 10_000 });
    } catch (err) {
      throw new LabError('LAB_ERR_SOURCE_ADDRESSES', `cannot add ${ip} inside ${spec.name}: ${(err as Error).message.trim()}`, {
        hint: 'adding addresses needs root and nsenter on the Docker host; LAB_DOCKER_ADDRESSES=1 uses one address per container',
      });
    }
  }
}

/**
 * Forgets the server's neighbour (ARP) entries. Docker derives a container's MAC from its address, so a reused address
 * normally finds its old entry still right; an extra address lives on another container's MAC, and a stale entry
 * would send the server's answers nowhere for half a minute. Best effort: without root the entries age out.
 */
export async function flushServerNeighbours(server: Dockerode.Container): Promise<void> {
  try {
    const pid = (await server.inspect()).State.Pid;
    await run('nsenter', ['-t', String(pid), '-n', 'ip', 'neigh', 'flush', 'dev', 'eth0'], { timeout: 10_000 });
  } catch {
    // not root, or no nsenter: nothing worse than before
  }
}

/** Removes every container of this run (by label, so also those created but never registered). Never throws. */
export async function removeRunContainers(docker: Dockerode, project: string, runId: string): Promise<number> {
  let list: Dockerode.ContainerInfo[];
  try {
    list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.lab}=${project}`, `${LABELS.run}=${runId}`] } });
  } catch {
    return 0;
  }
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  return list.length;
}
