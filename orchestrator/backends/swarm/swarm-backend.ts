/**
 * The swarm backend: the server is the swarm lab's service (`make lab-up BACKEND=swarm`); the load generators are one
 * replicated service per run, spread over the nodes (at most ceil(replicas / nodes) per node), each replica taking
 * the ids of its task slot. The manager host reaches every component through the run's gateway container. Memory:
 * each component reports its own cgroup from inside (StatusMemoryProbe), cross-checked against its node engine's
 * stats where the manager can reach that engine. A node that leaves, a task that ends or is rescheduled, a replica
 * that cannot start: named with its node (SwarmWatch). stop() removes the run's service and gateway.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { EXIT, LabError } from '../../../shared/errors.ts';
import { loadProfile } from '../../../kernel/profile.ts';
import { parseDurationSeconds } from '../../config/duration.ts';
import type { NodePlan, Plan } from '../../plan/plan.ts';
import type { SwarmNode } from '../../plan/swarm-planner.ts';
import { loadgenStatus, serverStats } from '../../run/control.ts';
import type { Backend, Component } from '../backend.ts';
import { serverFlag, serverWorkerCapacity, STREAM_PREFIX } from '../component-commands.ts';
import { connectDocker } from '../docker/docker-lab.ts';
import { loadgenLifetime } from '../docker/docker-backend.ts';
import { DockerMemoryProbe } from '../probes/docker-memory-probe.ts';
import { StatusMemoryProbe } from '../probes/status-memory-probe.ts';
import { startGateway, type Gateway } from './swarm-gateway.ts';
import { findSwarmLab, type SwarmLab } from './swarm-lab.ts';
import { localNodeId, nodeEngines, readSwarmNodes, requireManager } from './swarm-nodes.ts';
import { CONTROL_PORT, LABEL, names, SERVER_PORT, swarmSettings, type SwarmSettings } from './swarm-settings.ts';
import { loadgenSpec } from './swarm-specs.ts';
import { currentTasks, ensureConfig, serviceTasks, taskAddress, waitTasks, type Task } from './swarm-tasks.ts';
import { SwarmWatch } from './swarm-watch.ts';

const ENTRY_SOURCE = readFileSync(new URL('../../../docker/swarm-loadgen-entry.ts', import.meta.url), 'utf8');
const GATEWAY_SERVER_PORT = 8000;

export interface SwarmBackendOptions {
  runId?: string;
  env?: NodeJS.ProcessEnv;
  docker?: Dockerode;
  /** The load-generator image (default: the lab's). */
  image?: string;
  /** The load generators stop by themselves after this long; default from the plan. */
  durationSeconds?: number;
  readyTimeoutMs?: number;
}

/**
 * Refuses a plan the lab's server cannot hold: its workers (given, or sized by `--workers auto` for
 * `--max-connections`) under the file limit.
 */
export function checkServerCapacity(plan: Plan, lab: SwarmLab): void {
  const perWorker = serverWorkerCapacity(lab.server.nofile ?? plan.fdLimitPerProcess);
  const workers = serverFlag(lab.server.args, 'workers');
  const max = Number(serverFlag(lab.server.args, 'max-connections') ?? 0);
  const capacity = workers && workers !== 'auto' ? Number(workers) * perWorker : max;
  if (plan.n > capacity) {
    throw new LabError('LAB_ERR_LAB_TOO_SMALL', `the swarm lab's server was sized for ${capacity} connections (${workers ?? 'auto'} workers, --max-connections=${max}): too few for ${plan.n}`, {
      exitCode: EXIT.preflight,
      hint: `make lab-down && make lab-up BACKEND=swarm N=${plan.n}`,
    });
  }
}

export class SwarmBackend implements Backend {
  readonly name = 'swarm' as const;
  readonly options: SwarmBackendOptions;
  readonly runId: string;
  /** The load generators' control token for this run (their control ports listen on the overlay). */
  readonly loadgenToken = randomBytes(24).toString('base64url');
  readonly settings: SwarmSettings;
  lab: SwarmLab | undefined;
  gateway: Gateway | undefined;
  watch: SwarmWatch | undefined;
  serviceId: string | undefined;
  #docker: Dockerode | undefined;
  #components: Component[] = [];
  #stopped = false;
  #signal: AbortSignal | undefined;

  constructor(options: SwarmBackendOptions = {}) {
    this.options = options;
    this.runId = options.runId?.replace(/[^a-zA-Z0-9-]/g, '-') ?? `run-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
    this.settings = swarmSettings(options.env ?? process.env);
  }

  components(): Component[] {
    return this.#components;
  }

  async up(plan: Plan, signal?: AbortSignal): Promise<Plan> {
    this.#signal = signal;
    const docker = this.options.docker ?? (await connectDocker());
    this.#docker = docker;
    await requireManager(docker);
    const s = this.settings;
    const lab = await findSwarmLab(docker, s.project);
    this.lab = lab;
    checkServerCapacity(plan, lab);
    const nodes = await readSwarmNodes(docker);
    const engines = nodeEngines(docker, await localNodeId(docker), nodes, s.nodeEngines);
    const image = this.options.image ?? s.loadgenImage;
    const replicas = plan.loadgens.length;
    const lgNodes = (plan.nodes ?? []).filter((x) => x.loadgens.length > 0);
    const avoidServerNode = lgNodes.length > 0 && !lgNodes.some((x) => x.server);
    const spread = lgNodes.length || nodes.filter((x) => x.state === 'ready' && x.availability === 'active').length;
    const entry = await ensureConfig(docker, `${s.project}_loadgen-entry`, ENTRY_SOURCE, { [LABEL.lab]: s.project });
    const spec = { project: s.project, networkId: lab.network.id, nofile: s.nofile, profile: loadProfile(s.profile).settings };
    const svc = await docker.createService(
      loadgenSpec(spec, {
        runId: this.runId,
        image,
        replicas,
        shares: plan.loadgens.map((l) => ({ startIndex: l.startIndex, connections: l.connections })),
        procs: Math.max(...plan.loadgens.map((l) => l.procs)),
        serverAddress: lab.server.address,
        transport: plan.transport,
        streamPrefix: STREAM_PREFIX[plan.transport],
        durationSeconds: this.options.durationSeconds ?? loadgenLifetime(plan),
        maxPerNode: Math.ceil(replicas / Math.max(1, spread)),
        avoidServerNode,
        entryConfig: entry,
        controlToken: this.loadgenToken,
      }) as never,
    );
    this.serviceId = svc.id;
    const watch = new SwarmWatch(docker, nodes);
    this.watch = watch;
    try {
      const tasks = currentTasks(
        await waitTasks(docker, svc.id, {
          timeoutMs: this.options.readyTimeoutMs ?? 90_000,
          ...(signal ? { signal } : {}),
          what: `${replicas} load-generator replica(s)`,
          done: (t) => currentTasks(t).filter((k) => k.Status.State === 'running').length === replicas,
          failed: (t) => {
            const bad = t.find((k) => ['failed', 'rejected', 'orphaned'].includes(k.Status.State));
            return bad ? `load-generator replica ${bad.Slot} cannot start on node ${watch.nodeName(bad.NodeID ?? '')}: ${bad.Status.State}: ${bad.Status.Err ?? bad.Status.Message}` : undefined;
          },
        }),
      ).sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
      const server = (await serviceTasks(docker, lab.server.serviceId)).find((t) => t.ID === lab.server.taskId)!;
      const routes = [
        { listen: GATEWAY_SERVER_PORT, host: lab.server.address, port: SERVER_PORT },
        ...tasks.map((t) => ({ listen: CONTROL_PORT + (t.Slot ?? 0), host: taskAddress(t, lab.network.id)!, port: CONTROL_PORT })),
      ];
      this.gateway = await startGateway(docker, { name: names(s.project).runGateway(this.runId), project: s.project, runId: this.runId, image, networkId: lab.network.id, subnet: lab.network.subnet, routes });
      const gw = this.gateway;
      const crossCheck = (t: Task) => {
        const engine = engines.get(t.NodeID ?? '');
        const id = t.Status.ContainerStatus?.ContainerID;
        return engine && id ? new DockerMemoryProbe(engine.getContainer(id)) : undefined;
      };
      const component = (name: string, role: 'server' | 'loadgen', url: string, t: Task): Component => {
        watch.track(name, t);
        // The server's admin token (random per lab, from lab-up) travels with it: sends and broadcast need it; the
        // load generators' control token (random per run) with them: ramp, stop and latency reset need it.
        const token = role === 'server' ? lab.server.adminToken : this.loadgenToken;
        return { name, role, url, ...(token ? { token } : {}), node: watch.nodeName(t.NodeID ?? ''), probe: new StatusMemoryProbe(url, role, crossCheck(t)), exited: () => watch.exited(name) };
      };
      this.#components = [
        component('server', 'server', gw.url(GATEWAY_SERVER_PORT), server),
        ...tasks.map((t) => component(`loadgen-${t.Slot}`, 'loadgen', gw.url(CONTROL_PORT + (t.Slot ?? 0)), t)),
      ];
      await this.#waitAnswers();
      const stats = await serverStats(this.#components[0]!.url);
      watch.start();
      return this.#adopt(plan, lab, stats, tasks, watch.nodes);
    } catch (err) {
      await this.stop();
      if (signal?.aborted) throw signal.reason;
      if (err instanceof LabError) throw err;
      throw new LabError('LAB_ERR_SWARM', `starting the load generators on the swarm failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Every component answers through the gateway (a load generator's control port opens after its ready line). */
  async #waitAnswers(): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 90_000);
    for (const c of this.#components) {
      for (;;) {
        this.#signal?.throwIfAborted();
        if (this.#stopped) throw new LabError('LAB_ERR_INTERRUPTED', 'stopped while the load generators were starting', { exitCode: EXIT.interrupted });
        const ok = await (c.role === 'server' ? serverStats(c.url) : loadgenStatus(c.url)).then(() => true, () => false);
        if (ok) break;
        await this.watch!.poll();
        const why = c.exited();
        if (why) throw new LabError('LAB_ERR_SWARM', `${c.name} did not start: ${why}`);
        if (Date.now() > deadline) throw new LabError('LAB_ERR_COMPONENT_START', `${c.name} on node ${c.node} does not answer at ${c.url}`);
        await sleep(300, undefined, this.#signal ? { signal: this.#signal } : {});
      }
    }
  }

  /** The plan as it runs: the lab's server, one load generator per task slot with its node and address. */
  #adopt(plan: Plan, lab: SwarmLab, stats: { workers: number; engine: string }, tasks: Task[], nodes: SwarmNode[]): Plan {
    const interval = serverFlag(lab.server.args, 'interval');
    const nodeOf = (t: Task) => nodes.find((x) => x.id === t.NodeID);
    const loadgens = plan.loadgens.map((l, i) => {
      const t = tasks.find((k) => k.Slot === i + 1)!;
      return { ...l, name: `loadgen-${i + 1}`, node: nodeOf(t)?.name, sourceAddresses: [taskAddress(t, lab.network.id)!], targets: [{ host: lab.server.address, port: SERVER_PORT }] };
    });
    const placed: NodePlan[] = nodes.map((x) => {
      const planned = plan.nodes?.find((p) => p.id === x.id);
      return {
        name: x.name,
        id: x.id,
        cores: x.cores,
        memoryBytes: x.memoryBytes,
        server: x.id === lab.server.nodeId,
        loadgens: loadgens.filter((l) => l.node === x.name).map((l) => l.name),
        expectedMemoryBytes: planned?.expectedMemoryBytes ?? 0,
      };
    });
    return {
      ...plan,
      server: {
        ...plan.server,
        workers: stats.workers,
        engine: stats.engine,
        port: SERVER_PORT,
        addresses: [lab.server.address],
        heartbeatIntervalMs: interval ? Math.round(parseDurationSeconds(interval) * 1000) : plan.server.heartbeatIntervalMs,
      },
      loadgens,
      nodes: placed,
    };
  }

  abandon(): string {
    return `this run's load-generator service and gateway may be left: docker service rm $(docker service ls -q --filter label=${LABEL.run}=${this.runId}); docker rm -f ${names(this.settings.project).runGateway(this.runId)}`;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.watch?.stop();
    const docker = this.#docker;
    if (!docker) return;
    if (this.gateway) await docker.getContainer(this.gateway.id).remove({ force: true }).catch(() => undefined);
    // A gateway whose creation was interrupted, found by its name.
    await docker.getContainer(names(this.settings.project).runGateway(this.runId)).remove({ force: true }).catch(() => undefined);
    for (const s of await docker.listServices({ filters: { label: [`${LABEL.run}=${this.runId}`] } })) {
      await docker.getService(s.ID).remove().catch(() => undefined);
    }
    // Its tasks shut down node by node; those on a node that is down stay until it is back (their --duration ends them).
    const down = new Set((this.watch?.nodes ?? []).filter((n) => n.state !== 'ready').map((n) => n.id));
    for (let i = 0; i < 40 && this.serviceId; i++) {
      const left = ((await docker.listTasks({ filters: { service: [this.serviceId] } }).catch(() => [])) as Task[]).filter((t) => !down.has(t.NodeID ?? ''));
      if (left.length === 0) break;
      await sleep(250);
    }
    for (const id of down) {
      const what = `node ${this.watch!.nodeName(id)} is down: its tasks stay there until it is back (each load generator ends after its --duration)`;
      if (!this.watch!.events.some((e) => e.what === what)) this.watch!.events.push({ atMs: Date.now(), what });
    }
  }

  events(): Array<{ atMs: number; what: string }> {
    return this.watch?.events ?? [];
  }

  /** The run's services, as the manager lists them now (tests and leftovers checks). */
  async runServices(): Promise<string[]> {
    if (!this.#docker) return [];
    return (await this.#docker.listServices({ filters: { label: [`${LABEL.run}=${this.runId}`] } })).map((s) => s.Spec?.Name ?? s.ID);
  }
}
