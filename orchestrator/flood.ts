/**
 * `flood`: the lab's main job as one exported function the CLI and the tests both call. Plans (refusing what does
 * not fit unless forced), starts the backend through a FloodRun, attaches the listeners, handles Ctrl-C, writes
 * run.json and the report, and returns the exit code. It never calls process.exit; the process state it needs
 * (output streams, signals, environment) comes in `io`.
 */
import type { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EXIT, LabError, type ExitCode } from '../shared/errors.ts';
import type { Backend } from './backends/backend.ts';
import { LocalBackend } from './backends/local/local-backend.ts';
import type { FloodConfig } from './config/flood-config.ts';
import { parseDurationSeconds } from './config/duration.ts';
import { jsonLines } from './listeners/json-lines.ts';
import type { ListenerContext, RunListener, RunListenerFactory } from './listeners/listener.ts';
import { progress } from './listeners/progress.ts';
import { samplesCsv } from './listeners/samples-csv.ts';
import { formatPlan } from './plan/format-plan.ts';
import { makeFloodPlan } from './plan/make-flood-plan.ts';
import type { Plan } from './plan/plan.ts';
import { collectEnvironment } from './report/environment.ts';
import { writeRunRecord } from './report/run-record.ts';
import { makeReportDir, writeReport } from './report/write-report.ts';
import type { Summary } from './report/summarize.ts';
import { exitCodeFor } from './run/exit-code.ts';
import { takeFloodLock } from './run/flood-lock.ts';
import { FloodRun } from './run/flood-run.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface FloodIo {
  stdout: ListenerContext['stdout'];
  stderr: ListenerContext['stderr'];
  env: NodeJS.ProcessEnv;
  /** Where SIGINT/SIGTERM arrive (the process); tests pass their own emitter. */
  signals?: EventEmitter;
}

export interface FloodHooks {
  /** Extra listeners (e.g. a test's own); run after the built-in ones. */
  listeners?: RunListenerFactory[];
  /** Called with the run before it starts (tests use it to kill a component mid-run). */
  onRun?: (run: FloodRun) => void;
  /** Replaces the backend the config asks for (tests; the Docker backend's own wiring). */
  backend?: (plan: Plan, runId: string) => Backend;
}

export interface FloodResult {
  exitCode: ExitCode;
  /** The plan the backend adopted (what ran), or the plan made when the backend never came up. */
  plan: Plan;
  reportDir?: string;
  summary?: Summary;
}

/** The listeners the flags ask for: the bar or the JSON lines, samples.csv, the live page and exporter. */
function builtInListeners(config: FloodConfig): RunListenerFactory[] {
  const list: RunListenerFactory[] = [config.json ? jsonLines : progress, samplesCsv];
  if (config.livePort !== undefined || config.metricsPort !== undefined) {
    list.push(async (run, ctx) => {
      const { startRunObservers } = await import('./live/run-observers.ts');
      const targetsDir = ctx.plan.backend === 'docker' ? (await import('./backends/docker/docker-lab.ts')).labTargetsDir() : undefined;
      const obs = await startRunObservers(run, { backend: ctx.plan.backend, livePort: config.livePort, metricsPort: config.metricsPort, title: `comet-lab flood ${ctx.plan.n}`, ...(targetsDir ? { targetsDir } : {}) });
      if (obs.live) ctx.stderr.write(`live page: ${obs.live.url}\n`);
      if (obs.exporter) ctx.stderr.write(`metrics: ${obs.exporter.url}\n`);
      return obs;
    });
  }
  return list;
}

async function chooseBackend(config: FloodConfig): Promise<Plan['backend']> {
  if (config.backend !== 'auto') return config.backend;
  const { isDockerLabUp } = await import('./backends/docker/docker-lab.ts');
  if (await isDockerLabUp()) return 'docker';
  const { isSwarmLabUp } = await import('./backends/swarm/swarm-lab.ts');
  return (await isSwarmLabUp()) ? 'swarm' : 'local';
}

async function makeBackend(plan: Plan, runId: string, config: FloodConfig, logDir: string | undefined): Promise<Backend> {
  if (plan.backend === 'docker') {
    const { DockerBackend } = await import('./backends/docker/docker-backend.ts');
    return new DockerBackend({ runId });
  }
  if (plan.backend === 'swarm') {
    const { SwarmBackend } = await import('./backends/swarm/swarm-backend.ts');
    return new SwarmBackend({ runId });
  }
  const lifetime = (2 * plan.n) / plan.rampRate + plan.holdSeconds + (config.sendsRate ? config.sendsSeconds : 0) + 300;
  return new LocalBackend({ runId, lifetimeSeconds: lifetime, logDir, cwd: REPO_ROOT, serverEntry: config.serverEntry || undefined });
}

export async function flood(config: FloodConfig, io: FloodIo, hooks: FloodHooks = {}): Promise<FloodResult> {
  const backendName = await chooseBackend(config);
  const plan = backendName === 'swarm' ? await (await import('./plan/make-swarm-plan.ts')).makeSwarmFloodPlan(config, { ...process.env, ...io.env }) : makeFloodPlan(config, backendName);
  if (!config.json) io.stderr.write(`${formatPlan(plan)}\n`);
  if (plan.refusals.length > 0 && !config.force) {
    throw new LabError('LAB_ERR_PLAN_REFUSED', `this host cannot run the plan:\n${plan.refusals.map((r) => `  - ${r}`).join('\n')}`, {
      exitCode: EXIT.preflight,
      hint: 'change what is named above, lower --n, or pass --force to run anyway',
    });
  }
  // One flood per host: a second one refuses (or waits, --wait-busy) before anything starts or is written.
  const lock = await takeFloodLock(
    { backend: plan.backend, n: plan.n },
    { waitMs: (config.busyWaitSeconds || waitFromEnv(process.env)) * 1000, ...(io.env.LAB_FLOOD_LOCK ? { path: io.env.LAB_FLOOD_LOCK } : {}), onWait: (h) => io.stderr.write(`waiting up to ${config.busyWaitSeconds} s for the flood of pid ${h.pid} (N=${h.n}, since ${h.startedAt}) to end\n`) },
  );
  try {
    return await floodLocked(config, io, hooks, plan);
  } finally {
    lock.release();
  }
}

async function floodLocked(config: FloodConfig, io: FloodIo, hooks: FloodHooks, plan: Plan): Promise<FloodResult> {
  // The orchestrator's pid leads the id: a later run reaps the cgroups of one that was killed (cgroup.ts).
  const runId = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const reportDir = config.report ? makeReportDir(config.out, plan.backend, plan.n) : undefined;
  const logDir = reportDir ? join(reportDir, 'logs') : undefined;
  if (logDir) mkdirSync(logDir);
  const environment = collectEnvironment();
  if (reportDir) writeRunRecord(reportDir, { config, plan, environment });

  const backend = hooks.backend ? hooks.backend(plan, runId) : await makeBackend(plan, runId, config, logDir);
  const run = new FloodRun(plan, backend, {
    sampleSeconds: config.sampleSeconds,
    stallSeconds: config.stallSeconds,
    holdSeconds: config.holdSeconds,
    sendsRate: config.sendsRate,
    sendsSeconds: config.sendsSeconds,
    sendsConnections: config.sendsConnections,
    broadcast: config.broadcast,
    broadcastTimeoutSeconds: 30,
  });
  const ctx: ListenerContext = { plan, config, reportDir, stdout: io.stdout, stderr: io.stderr };
  const listeners: RunListener[] = [];
  const signals = io.signals;
  const onSignal = (sig: string) => run.abort(`interrupted by ${sig}`, true);
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  signals?.on('SIGINT', onInt);
  signals?.on('SIGTERM', onTerm);
  let outcome;
  try {
    for (const factory of [...builtInListeners(config), ...(hooks.listeners ?? [])]) listeners.push(await factory(run, ctx));
    hooks.onRun?.(run);
    outcome = await run.run();
  } finally {
    signals?.off('SIGINT', onInt);
    signals?.off('SIGTERM', onTerm);
    if (!outcome) await backend.stop().catch(() => undefined); // a listener failed to start: nothing ran, stop anyway
    for (const l of listeners.reverse()) await Promise.resolve(l.close()).catch(() => undefined);
  }
  let summary: Summary | undefined;
  if (reportDir) {
    writeRunRecord(reportDir, { config, plan: run.plan, environment, outcome });
    summary = writeReport(reportDir);
    const line = summaryLine(summary);
    if (config.json) io.stdout.write(`${JSON.stringify({ event: 'report', dir: reportDir, summary })}\n`);
    else io.stdout.write(`report: ${join(reportDir, 'report.md')}\n${line}\n`);
  }
  const reached = summary?.reached.client ?? outcome.ramp?.reached ?? 0;
  const exitCode = exitCodeFor({ outcome, reached, n: run.plan.n });
  return { exitCode, plan: run.plan, reportDir, summary };
}

/** LAB_FLOOD_WAIT also applies to floods started in-process (tests, bench), whose config was built without env. */
function waitFromEnv(env: NodeJS.ProcessEnv): number {
  const s = env.LAB_FLOOD_WAIT ? parseDurationSeconds(env.LAB_FLOOD_WAIT) : 0;
  return Number.isFinite(s) ? s : 0;
}

/** One line for the terminal: N reached, ramp rate, KB per connection per side. */
export function summaryLine(s: Summary): string {
  const kib = (b?: number) => (b === undefined ? 'n/a' : `${(b / 1024).toFixed(2)} KiB`);
  return [
    s.complete ? (s.degraded?.length ? `DEGRADED (${s.degraded.join('; ')})` : 'complete') : `INCOMPLETE (${s.incomplete})`,
    `reached ${s.reached.client}/${s.n} (server ${s.reached.server})`,
    `ramp ${s.rampRate === undefined ? 'n/a' : Math.round(s.rampRate)}/s`,
    `server ${kib(s.memory.server.fit?.slope)}/conn (slope; ${kib(s.memory.server.holdPerConnectionBytes)} total/N)`,
    `loadgens ${kib(s.memory.loadgen.fit?.slope)}/conn (slope; ${kib(s.memory.loadgen.holdPerConnectionBytes)} total/N)`,
  ].join(', ');
}
