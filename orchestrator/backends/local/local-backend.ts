/**
 * The local backend: the server and the load generators as child processes on this host's loopback. Each
 * component runs in its own memory cgroup where one can be made (cgroup.ts), so its memory is read like a
 * container's; otherwise /proc gives RSS per process tree. stop() ends every process it started (SIGTERM to each
 * process group, SIGKILL after a grace period) and removes every cgroup, on success, failure and Ctrl-C alike.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend, Component, MemoryProbe } from '../backend.ts';
import type { Plan } from '../../plan/plan.ts';
import { ComponentCgroup, detectCgroup, reapOrphanRuns, removeRunDir, type CgroupLayout } from './cgroup.ts';
import { loadgenArgs, serverArgs } from '../component-commands.ts';
import { freePortBelow } from './free-port.ts';
import { CgroupV1MemoryProbe } from '../probes/memory-probe-cgroup-v1.ts';
import { CgroupV2MemoryProbe } from '../probes/memory-probe-cgroup-v2.ts';
import { ProcMemoryProbe } from '../probes/memory-probe-proc.ts';
import { spawnComponent, type SpawnedComponent } from './spawn-component.ts';
import { signalGroup, type WatchedChild } from './watched-child.ts';
import type { LaunchedServer, LocalLauncher } from '../../targets/target.ts';

export interface LocalBackendOptions {
  /** Names this run's cgroup folder; unique per run. */
  runId: string;
  /** Seconds after which load generators stop by themselves (a bound if the orchestrator is killed). */
  lifetimeSeconds: number;
  /** false: no cgroups even where possible (the /proc probe measures). */
  cgroups?: boolean;
  logDir?: string;
  readyTimeoutMs?: number;
  /** Repository root (where server/ and loadgen/ are). */
  cwd?: string;
  /** Another server program taking the same flags and printing the same ready line (default server/cli.ts). */
  serverEntry?: string;
  /** Starts a target's server instead of comet-lab's (orchestrator/targets/), in the server's cgroup all the same. */
  server?: LocalLauncher;
  /** The run will broadcast (a target may set its server up for it). */
  broadcast?: boolean;
}

interface LocalComponent extends Component {
  /** The process from the moment it is spawned, before its ready line: stop() must reach one still starting. */
  child?: WatchedChild;
  /** Set once it printed its ready line. */
  proc?: SpawnedComponent;
  cgroup?: ComponentCgroup;
  target?: LaunchedServer;
}

const STOP_GRACE_MS = 5000;

export class LocalBackend implements Backend {
  readonly name = 'local' as const;
  readonly options: LocalBackendOptions;
  private layout: CgroupLayout | undefined;
  private readonly list: LocalComponent[] = [];
  private stopped = false;
  /** The signal up() was given: a component still starting is killed when it aborts. */
  private signal: AbortSignal | undefined;
  /** The load generators' control token for this run (LOADGEN_CONTROL_TOKEN in their environment only). */
  private readonly controlToken = randomBytes(24).toString('base64url');
  /** Runs of a killed orchestrator whose leftovers `up` removed. */
  reaped: string[] = [];

  constructor(options: LocalBackendOptions) {
    this.options = options;
  }

  /** How memory is measured here: cgroup-v1, cgroup-v2 or proc-rss. */
  get memoryMethod(): string {
    return this.layout ? `cgroup-${this.layout.version}` : 'proc-rss';
  }

  components(): Component[] {
    return this.list.filter((c) => c.proc !== undefined || c.target !== undefined);
  }

  async up(plan: Plan, signal?: AbortSignal): Promise<Plan> {
    this.signal = signal;
    this.layout = this.options.cgroups === false ? undefined : detectCgroup();
    if (this.layout) this.reaped = await reapOrphanRuns(this.layout);
    const port = plan.server.port || (await freePortBelow(ephemeralLow()));
    signal?.throwIfAborted();
    if (this.options.server) {
      // The launcher takes no signal (targets/): a target still starting is waited for, then stopped by stop().
      await this.startTarget(this.options.server, plan, port);
      signal?.throwIfAborted();
    } else {
      // --exit-with-parent: the server ends within half a second when the orchestrator dies, even by SIGKILL (its
      // stdin is our lifeline pipe); before, a killed orchestrator left it running with its workers and cgroups.
      const args = [...serverArgs(plan, port), '--exit-with-parent'];
      if (this.options.serverEntry) args[0] = this.options.serverEntry;
      // A token of its own for every run, random, in memory and in the server's environment only (readable by root and
      // this user, never on a command line or in the report): send, broadcast and the server's GC need it.
      const token = randomBytes(24).toString('base64url');
      const server = await this.start('server', 'server', plan.fdLimitPerProcess, args, { ...process.env, COMET_ADMIN_TOKEN: token });
      server.token = token;
      const ready = server.proc!.ready;
      if (typeof ready.port === 'number' && ready.port !== port) throw new Error(`server listens on ${ready.port}, not ${port}`);
      server.url = `http://127.0.0.1:${port}`;
      server.listen = { port };
    }
    // Each child is in this.list from its spawn on, so when one fails to start and the run stops the backend, stop()
    // reaches the others still waiting for their ready line (before, they had no proc yet and kept running).
    await Promise.all(plan.loadgens.map(async (lg) => {
      const env = { ...process.env, LOADGEN_CONTROL_TOKEN: this.controlToken };
      const c = await this.start(lg.name, 'loadgen', plan.fdLimitPerProcess, [...loadgenArgs(plan, lg, port, this.options.lifetimeSeconds), '--exit-with-parent'], env);
      const controlPort = c.proc!.ready.controlPort;
      if (typeof controlPort !== 'number') throw new Error(`${lg.name}'s ready line has no controlPort`);
      c.url = `http://127.0.0.1:${controlPort}`;
      c.token = this.controlToken;
    }));
    return { ...plan, server: { ...plan.server, port } };
  }

  /** A target's server: launched by the target, inside the cgroup made here, probed here unless the target says. */
  private async startTarget(launcher: LocalLauncher, plan: Plan, port: number): Promise<void> {
    if (this.stopped) throw new Error('backend stopped');
    const cgroup = this.layout ? new ComponentCgroup(this.layout, this.options.runId, 'server') : undefined;
    const entry: LocalComponent = { name: 'server', role: 'server', url: '', probe: undefined as unknown as MemoryProbe, cgroup, exited: () => undefined };
    this.list.push(entry);
    const nofile = plan.fdLimitPerProcess;
    const wrap = (command: string[]) => (cgroup ? cgroup.wrapCommand(command, nofile) : ['/bin/sh', '-c', `ulimit -n ${nofile} && exec "$@"`, 'comet-lab', ...command]);
    const launched = await launcher({ plan, port, wrap, runId: this.options.runId, logDir: this.options.logDir, cwd: this.options.cwd ?? process.cwd(), broadcast: this.options.broadcast ?? false });
    entry.target = launched;
    entry.url = launched.url;
    entry.listen = launched.listen;
    entry.probe = launched.probe === null
      ? { read: () => Promise.reject(new Error('not measured')) }
      : (launched.probe ?? (!cgroup ? new ProcMemoryProbe(launched.pid) : cgroup.version === 'v1' ? new CgroupV1MemoryProbe(cgroup.path, launched.pid) : new CgroupV2MemoryProbe(cgroup.path)));
    entry.exited = () => deathReason(entry);
  }

  private async start(name: string, role: 'server' | 'loadgen', nofile: number, args: string[], env?: NodeJS.ProcessEnv): Promise<LocalComponent> {
    const lifeline = true; // every component: see spawnComponent and --exit-with-parent
    if (this.stopped) throw new Error('backend stopped');
    const cgroup = this.layout ? new ComponentCgroup(this.layout, this.options.runId, name) : undefined;
    const entry: LocalComponent = { name, role, url: '', probe: undefined as unknown as MemoryProbe, cgroup, exited: () => undefined };
    this.list.push(entry);
    const command = [process.execPath, ...args];
    entry.proc = await spawnComponent(cgroup ? cgroup.wrapCommand(command, nofile) : command, role, {
      onSpawn: (child) => (entry.child = child),
      ...(this.signal ? { signal: this.signal } : {}),
      timeoutMs: this.options.readyTimeoutMs ?? 30_000,
      cwd: this.options.cwd,
      logFile: this.options.logDir ? join(this.options.logDir, `${name}.log`) : undefined,
      ...(env ? { env } : {}),
      lifeline,
    });
    const pid = () => entry.proc?.child.pid;
    entry.probe = !cgroup
      ? new ProcMemoryProbe(pid)
      : cgroup.version === 'v1'
        ? new CgroupV1MemoryProbe(cgroup.path, pid)
        : new CgroupV2MemoryProbe(cgroup.path);
    entry.exited = () => deathReason(entry);
    return entry;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.list.map(async (c) => {
      await c.target?.stop();
      await c.child?.stop('SIGTERM', STOP_GRACE_MS);
      await c.cgroup?.remove(); // also kills anything left inside: workers, children of children
    }));
    if (this.layout) removeRunDir(this.layout, this.options.runId);
    // Without cgroups, a stray grandchild is found by its process group, which the SIGTERM/SIGKILL above reached.
  }

  abandon(): string {
    for (const c of this.list) {
      const pid = c.child?.child.pid;
      if (pid !== undefined && c.child?.exitReason() === undefined) signalGroup(pid, 'SIGKILL');
    }
    return this.layout
      ? `SIGKILL sent to every component's process group; the run's cgroups (${this.layout.labRoot}/${this.options.runId}) are removed by the next local run`
      : "SIGKILL sent to every component's process group";
  }
}

/** Why a component is no longer running: the exit, an OOM kill the cgroup saw, and its last stderr line. */
function deathReason(c: LocalComponent): string | undefined {
  const reason = c.target ? c.target.exitReason() : c.proc?.exitReason();
  if (reason === undefined) return undefined;
  let oom = '';
  if (c.cgroup?.version === 'v1') {
    try {
      if (/oom_kill [1-9]/.test(readFileSync(join(c.cgroup.path, 'memory.oom_control'), 'latin1'))) oom = ' (OOM-killed)';
    } catch {
      // cgroup already removed
    }
  }
  const last = c.proc?.stderrTail.at(-1);
  return `${reason}${oom}${last ? `: ${last}` : ''}`;
}

function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}
