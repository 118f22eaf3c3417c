/**
 * The docker backend: the server is the Docker lab's own (compose service `server`, started by `make lab-up`); the
 * load generators are containers this backend creates on the lab network, one fixed address each, enough of them
 * for N (docker-layout.ts), driven over their control port. Memory of every container comes from one-shot `stats`
 * as `docker stats` shows it (docker-memory-probe.ts). stop() removes every container it created, on success,
 * failure and Ctrl-C alike; the lab itself stays up until `make lab-down`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { EXIT, LabError } from '../../../shared/errors.ts';
import type { Plan } from '../../plan/plan.ts';
import type { Backend, Component } from '../backend.ts';
import { serverFlag, serverWorkerCapacity } from '../component-commands.ts';
import { connectDocker, findLab, LABELS, labProject, type LabInfo } from './docker-lab.ts';
import { allocateIps, intToIp, ipToInt, layoutLoadgens, type LoadgenContainerSpec } from './docker-layout.ts';
import type { DockerLauncher } from '../../targets/target.ts';
import { parseDurationSeconds } from '../../config/duration.ts';
import { serverStats } from '../../run/control.ts';
import { DockerExitWatch } from './docker-exit-watch.ts';
import { cgroupV1MemoryDir, DockerMemoryProbe } from '../probes/docker-memory-probe.ts';
import { addExtraAddresses, CONTROL_PORT, createLoadgenContainer, flushServerNeighbours, LOADGEN_IMAGE, removeRunContainers, waitReady } from './docker-loadgen-containers.ts';

export interface DockerBackendOptions {
  project?: string;
  /** Labels this run's containers (comet-lab.run); default: a fresh random id. */
  runId?: string;
  /** At least this many load-generator containers (LAB_DOCKER_LOADGENS); default: as few as N needs. */
  minContainers?: number;
  /** Source addresses per container, its own included (LAB_DOCKER_ADDRESSES, default 1). */
  addressesPerContainer?: number;
  image?: string;
  /** nofile inside each load generator; default: the plan's per-process limit (the host's hard cap). */
  fdLimit?: number;
  readyTimeoutMs?: number;
  /** The load generators stop themselves after this long; default: from the plan (ramp, hold, message phases). */
  durationSeconds?: number;
  docker?: Dockerode;
  /** Starts a target's server container instead of using the lab's own (orchestrator/targets/image.ts). */
  server?: DockerLauncher;
}

/** Seconds a load generator lives: twice the ramp at the planned rate, the hold, and room for the message phases. */
export function loadgenLifetime(plan: Plan): number {
  return Math.ceil((2 * plan.n) / Math.max(1, plan.rampRate)) + plan.holdSeconds + 600;
}

/**
 * The lab's server was started by `make lab-up`, not from this plan: the plan it returns is rewritten to what runs
 * (workers and engine as the server reports them, heartbeat from its flags, the containers' layout), so the run drives
 * the right containers (plan.loadgens[i] is component i) and the report describes what was measured. Refuses when the
 * server's workers cannot hold N under their file limit. The plan given is not changed.
 */
export function adoptLab(plan: Plan, lab: LabInfo, running: { workers: number; engine: string }, specs: LoadgenContainerSpec[]): Plan {
  const perWorker = serverWorkerCapacity(lab.serverNofile ?? plan.fdLimitPerProcess);
  if (plan.n > running.workers * perWorker) {
    throw new LabError(
      'LAB_ERR_LAB_TOO_SMALL',
      `the lab's server runs ${running.workers} worker(s) of ~${perWorker} connections each: too few for ${plan.n}`,
      { exitCode: EXIT.preflight, hint: `make lab-down && make lab-up N=${plan.n} (sizes the server's workers for N)` },
    );
  }
  const interval = serverFlag(lab.serverCmd, 'interval');
  const server = {
    ...plan.server,
    workers: running.workers,
    engine: running.engine,
    port: lab.serverPort,
    addresses: [lab.serverIp],
    heartbeatIntervalMs: interval ? Math.round(parseDurationSeconds(interval) * 1000) : plan.server.heartbeatIntervalMs,
  };
  return { ...plan, server, loadgens: containerLoadgens(specs, lab.serverIp, lab.serverPort) };
}

function containerLoadgens(specs: LoadgenContainerSpec[], serverIp: string, serverPort: number): Plan['loadgens'] {
  return specs.map((s) => ({
    name: s.name,
    procs: s.procs,
    connections: s.connections,
    startIndex: s.startIndex,
    sourceAddresses: [s.ip, ...s.extraIps],
    targets: [{ host: serverIp, port: serverPort }],
  }));
}

/**
 * For printing a docker plan before anything starts (no I/O): the load generators as the backend will lay them out
 * on the default lab subnet (COMET_LAB_SUBNET, server at .10, port 8000). up() redoes it against the real lab.
 */
export function previewDockerPlan(plan: Plan, env: NodeJS.ProcessEnv = process.env): Plan {
  const subnet = env.COMET_LAB_SUBNET || '172.28.0.0/16';
  const serverIp = intToIp(ipToInt(subnet.split('/')[0]!) + 10);
  const minContainers = Number(env.LAB_DOCKER_LOADGENS) || undefined;
  const addressesPerContainer = Number(env.LAB_DOCKER_ADDRESSES) || undefined;
  const specs = layoutLoadgens(plan, { minContainers, addressesPerContainer, fdLimit: plan.fdLimitPerProcess, subnet, usedIps: [] });
  return { ...plan, server: { ...plan.server, port: 8000, addresses: [serverIp] }, loadgens: containerLoadgens(specs, serverIp, 8000) };
}

/** Best effort: hosts where the cgroup tree is not visible or kmem.tcp is gone just report no socket figure. */
function enableTcpAccounting(dir: string): void {
  try {
    const file = `${dir}/memory.kmem.tcp.limit_in_bytes`;
    if (Number(readFileSync(file, 'latin1')) >= 2 ** 60) writeFileSync(file, String(2 ** 40));
  } catch {
    // not v1, or not root
  }
}

export class DockerBackend implements Backend {
  readonly name = 'docker' as const;
  readonly options: DockerBackendOptions;
  readonly runId: string;
  lab: LabInfo | undefined;
  specs: LoadgenContainerSpec[] = [];
  #docker: Dockerode | undefined;
  #watch: DockerExitWatch | undefined;
  #components: Component[] = [];
  #stopped = false;
  /** The load generators' control token for this run (their control ports listen on the lab network). */
  readonly loadgenToken = randomBytes(24).toString('base64url');

  constructor(options: DockerBackendOptions = {}) {
    this.options = options;
    this.runId = options.runId ?? `run-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  }

  async up(plan: Plan, signal?: AbortSignal): Promise<Plan> {
    const docker = this.options.docker ?? (await connectDocker());
    this.#docker = docker;
    const lab = await findLab(docker, this.options.project ?? labProject());
    this.lab = lab;
    const image = this.options.image ?? (process.env.COMET_LAB_LOADGEN_IMAGE || LOADGEN_IMAGE);
    try {
      await docker.getImage(image).inspect();
    } catch {
      throw new LabError('LAB_ERR_NO_IMAGE', `the load-generator image ${image} is not built`, { exitCode: EXIT.preflight, hint: 'make lab-up builds it' });
    }
    const info = (await docker.info()) as { CgroupVersion?: string; CgroupDriver?: string };
    const v1 = info.CgroupVersion === '1';
    const cgroupDir = (id: string) =>
      !v1 ? undefined : info.CgroupDriver === 'systemd' ? `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope` : cgroupV1MemoryDir(id);
    const fdLimit = this.options.fdLimit ?? plan.fdLimitPerProcess;
    const minContainers = this.options.minContainers ?? (Number(process.env.LAB_DOCKER_LOADGENS) || undefined);
    const addressesPerContainer = this.options.addressesPerContainer ?? (Number(process.env.LAB_DOCKER_ADDRESSES) || undefined);
    const usedIps = [...lab.usedIps, lab.gateway ?? ''].filter(Boolean);
    // A target's server container: on the lab network at an address of its own, labelled with the run (so stop()
    // removes it with the load generators); the load generators then connect to it instead of the lab's server.
    const target = this.options.server ? { ip: allocateIps(lab.subnet, usedIps, 1)[0]!, id: '', port: 0 } : undefined;
    if (target) usedIps.push(target.ip);
    this.specs = layoutLoadgens(plan, { minContainers, addressesPerContainer, fdLimit, subnet: lab.subnet, usedIps });
    let adopted: Plan;
    if (target) {
      try {
        const t = await this.options.server!({
          docker, network: lab.network, ip: target.ip, fdLimit, name: `${lab.project}-${this.runId}-server`,
          labels: { [LABELS.lab]: lab.project, [LABELS.role]: 'target', [LABELS.run]: this.runId, 'comet-lab.component': 'server' },
        });
        Object.assign(target, { id: t.containerId, port: t.port });
      } catch (err) {
        await this.stop();
        throw err;
      }
      adopted = { ...plan, server: { ...plan.server, port: target.port, addresses: [target.ip] }, loadgens: containerLoadgens(this.specs, target.ip, target.port) };
    } else adopted = adoptLab(plan, lab, await serverStats(`http://${lab.serverIp}:${lab.serverPort}`), this.specs);
    const serverId = target?.id || lab.serverId;
    const serverIp = target?.ip ?? lab.serverIp;
    const serverPort = target?.port || lab.serverPort;

    // cgroup v1 counts a group's socket buffers only once it has a TCP limit: the compose server has none (Compose
    // cannot set it), so set a limit nobody reaches on its group, before the ramp opens any socket.
    const serverCgroup = cgroupDir(serverId);
    if (serverCgroup) enableTcpAccounting(serverCgroup);

    const watch = new DockerExitWatch(docker);
    this.#watch = watch;
    await watch.start();
    watch.watch(serverId);
    const server = docker.getContainer(serverId);
    this.#components = [
      {
        name: 'server',
        role: 'server',
        url: `http://${serverIp}:${serverPort}`,
        ...(lab.adminToken && !target ? { token: lab.adminToken } : {}),
        probe: new DockerMemoryProbe(server, { cgroupV1Dir: cgroupDir(serverId) }),
        listen: { port: serverPort, netnsPid: (await server.inspect()).State.Pid },
        exited: () => watch.exited(serverId),
      },
    ];
    try {
      const opts = {
        runId: this.runId,
        image,
        fdLimit,
        transport: plan.transport,
        durationSeconds: this.options.durationSeconds ?? loadgenLifetime(plan),
        accountTcp: v1,
        controlToken: this.loadgenToken,
      };
      // Created one after another (the engine serialises network attachment anyway), started together.
      const containers: Dockerode.Container[] = [];
      for (const spec of this.specs) {
        signal?.throwIfAborted();
        if (this.#stopped) throw new LabError('LAB_ERR_INTERRUPTED', 'stopped while the load generators were being created', { exitCode: EXIT.interrupted });
        const c = await createLoadgenContainer(docker, { ...lab, serverIp, serverPort }, spec, opts);
        watch.watch(c.id);
        containers.push(c);
      }
      await Promise.all(containers.map((c) => c.start()));
      const prefix = Number(lab.subnet.split('/')[1]);
      await Promise.all(containers.map((c, i) => addExtraAddresses(c, this.specs[i]!, prefix)));
      await flushServerNeighbours(server);
      await Promise.all(
        containers.map((c, i) => waitReady(docker, c, this.specs[i]!.name, this.options.readyTimeoutMs ?? 60_000, signal)),
      );
      containers.forEach((c, i) => {
        const spec = this.specs[i]!;
        this.#components.push({
          name: spec.name,
          role: 'loadgen',
          url: `http://${spec.ip}:${CONTROL_PORT}`,
          token: this.loadgenToken,
          probe: new DockerMemoryProbe(c, { cgroupV1Dir: cgroupDir(c.id) }),
          exited: () => watch.exited(c.id),
        });
      });
    } catch (err) {
      await this.stop();
      if (signal?.aborted) throw signal.reason;
      throw err instanceof LabError ? err : new LabError('LAB_ERR_DOCKER', `starting the load-generator containers failed: ${(err as Error).message}`, { cause: err });
    }
    return adopted;
  }

  components(): Component[] {
    return this.#components;
  }

  /** Container ids of this run's load generators, as the engine lists them now (for tests and lab-down checks). */
  async containerIds(): Promise<string[]> {
    if (!this.#docker || !this.lab) return [];
    const list = await this.#docker.listContainers({ all: true, filters: { label: [`comet-lab.run=${this.runId}`] } });
    return list.map((c) => c.Id);
  }

  abandon(): string {
    return `this run's load-generator containers may be left: docker rm -f $(docker ps -aq --filter label=comet-lab.run=${this.runId})`;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.stop();
    if (this.#docker && this.lab) await removeRunContainers(this.#docker, this.lab.project, this.runId);
  }
}
