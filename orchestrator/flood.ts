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
import { backendProblem, type FloodConfig } from './config/flood-config.ts';
import { parseDurationSeconds } from './config/duration.ts';
import { jsonLines } from './listeners/json-lines.ts';
import type { ListenerContext, RunListener, RunListenerFactory } from './listeners/listener.ts';
import { progress } from './listeners/progress.ts';
import { samplesCsv } from './listeners/samples-csv.ts';
import { heartbeatSeconds } from './live/live-point.ts';
import { formatPlan } from './plan/format-plan.ts';
import { makeFloodPlan } from './plan/make-flood-plan.ts';
import type { Plan } from './plan/plan.ts';
import { collectEnvironment } from './report/environment.ts';
import { writeRunRecord } from './report/run-record.ts';
import { makeReportDir, writeReport, type WrittenReport } from './report/write-report.ts';
import type { Summary } from './report/summarize.ts';
import type { SummaryV1 } from './report/summary-schema.ts';
import { exitCodeFor } from './run/exit-code.ts';
import { takeFloodLock } from './run/flood-lock.ts';
import { FloodRun } from './run/flood-run.ts';
import { mkdirSync, rmSync } from 'node:fs';
import { usageError } from '../shared/errors.ts';
import type { Target } from './targets/target.ts';
import { targetRecord } from './targets/target.ts';
import { makeTarget } from './targets/targets.ts';
import { formatThresholdTable } from './thresholds/threshold-table.ts';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The orchestrator samples at nice -10 (CFS weight 9,548 against 1,024 for each lab process): it needs little CPU,
 * but needs it on time. Root only; otherwise it runs as it is and run.json's `sampling.niceError` says why.
 */
export const ORCHESTRATOR_NICE = -10;

export interface FloodIo {
  stdout: ListenerContext['stdout'];
  stderr: ListenerContext['stderr'];
  env: NodeJS.ProcessEnv;
  /** Where SIGINT/SIGTERM arrive (the process); tests pass their own emitter. */
  signals?: EventEmitter;
  /** Ends the process at once (the CLI: process.exit): a second Ctrl-C calls it with 130. Absent: a second one is ignored. */
  exit?: (code: number) => void;
}

export interface FloodHooks {
  /** Extra listeners (e.g. a test's own); run after the built-in ones. */
  listeners?: RunListenerFactory[];
  /** Called with the run before it starts (tests use it to kill a component mid-run). */
  onRun?: (run: FloodRun) => void;
  /** Replaces the backend the config asks for (tests; the Docker backend's own wiring). */
  backend?: (plan: Plan, runId: string) => Backend;
  /** A target already prepared (compare: one per target, checked before the first run starts). */
  target?: Target;
  /** The plan to run instead of planning again (compare: the same plan for every target). */
  plan?: (backend: 'local' | 'docker') => Plan;
}

export interface FloodResult {
  exitCode: ExitCode;
  /** The plan the backend adopted (what ran), or the plan made when the backend never came up. */
  plan: Plan;
  reportDir?: string;
  /** The computed figures (bench/ reads these). */
  summary?: Summary;
  /** summary.json as written (orchestrator/report/summary-schema.ts). */
  document?: SummaryV1;
}

/** The listeners the flags ask for: the bar or the JSON lines, samples.csv, the live page and exporter. */
function builtInListeners(config: FloodConfig): RunListenerFactory[] {
  const list: RunListenerFactory[] = [config.json ? jsonLines : progress, samplesCsv];
  if (config.livePort !== undefined || config.metricsPort !== undefined) {
    list.push(async (run, ctx) => {
      const { runInfoOf, startRunObservers } = await import('./live/run-observers.ts');
      const targetsDir = ctx.plan.backend === 'docker' ? (await import('./backends/docker/docker-lab.ts')).labTargetsDir() : undefined;
      const obs = await startRunObservers(run, {
        backend: ctx.plan.backend,
        livePort: config.livePort,
        metricsPort: config.metricsPort,
        title: `comet-lab flood: ${ctx.plan.n.toLocaleString('en-US')} ${ctx.plan.transport} connections, ${ctx.plan.backend} backend`,
        points: { heartbeatSeconds: heartbeatSeconds(ctx.plan) },
        runInfo: runInfoOf(ctx.plan),
        ...(targetsDir ? { targetsDir } : {}),
      });
      if (obs.live) ctx.stderr.write(`live page: ${obs.live.url}\n`);
      if (obs.exporter) ctx.stderr.write(`metrics: ${obs.exporter.url}\n`);
      return obs;
    });
  }
  return list;
}

/** auto: docker when its lab is up, then swarm when its lab is up, else local; a target runs only where it can. */
async function chooseBackend(config: FloodConfig, target: Target): Promise<Plan['backend']> {
  if (config.backend !== 'auto') {
    // resolveFloodConfig refuses this already; here for callers that build a FloodConfig and a Target themselves.
    const problem = backendProblem(target, config.backend);
    if (problem) throw usageError([problem]);
    return config.backend;
  }
  if (!target.backends.includes('docker')) return 'local';
  const { isDockerLabUp } = await import('./backends/docker/docker-lab.ts');
  if (await isDockerLabUp()) return 'docker';
  if (target.backends.includes('swarm')) {
    const { isSwarmLabUp } = await import('./backends/swarm/swarm-lab.ts');
    if (await isSwarmLabUp()) return 'swarm';
  }
  if (!target.backends.includes('local')) {
    throw new LabError('LAB_ERR_LAB_NOT_UP', `--target ${target.name} runs on the Docker backend, and the Docker lab is not up`, { exitCode: EXIT.preflight, hint: 'make lab-up' });
  }
  return 'local';
}

async function makeBackend(plan: Plan, runId: string, config: FloodConfig, logDir: string | undefined, target: Target): Promise<Backend> {
  if (plan.backend === 'docker') {
    const { DockerBackend } = await import('./backends/docker/docker-backend.ts');
    return new DockerBackend({ runId, server: target.launchDocker });
  }
  if (plan.backend === 'swarm') {
    const { SwarmBackend } = await import('./backends/swarm/swarm-backend.ts');
    return new SwarmBackend({ runId });
  }
  const lifetime = (2 * plan.n) / plan.rampRate + plan.holdSeconds + (config.sendsRate ? config.sendsSeconds : 0) + 300;
  return new LocalBackend({
    runId, lifetimeSeconds: lifetime, logDir, cwd: REPO_ROOT, serverEntry: config.serverEntry || undefined, server: target.launchLocal, broadcast: config.broadcast,
  });
}

/** The target of the config, checked against it and against the world (programs, image, URL) before anything starts. */
export async function prepareTarget(config: FloodConfig): Promise<Target> {
  const target = makeTarget(config.target, { serverPid: config.serverPid, serverContainer: config.serverContainer, readySeconds: config.targetReadySeconds });
  if (!target.supports.transports.includes(config.transport)) {
    throw usageError([`--target ${target.name} speaks ${target.supports.transports.join(', ')}, not --transport ${config.transport}`]);
  }
  await target.preflight();
  return target;
}

/** The plan for this target: the same plan for every target, then what the target runs and where it listens. */
export function targetPlan(plan: Plan, target: Target): Plan {
  target.adaptPlan(plan);
  if (target.kind !== 'comet-lab') plan.target = { name: target.name, kind: target.kind, streamPath: target.streamPath(plan.transport), loadgenFlags: target.loadgenFlags };
  return plan;
}

export async function flood(config: FloodConfig, io: FloodIo, hooks: FloodHooks = {}): Promise<FloodResult> {
  const target = hooks.target ?? (await prepareTarget(config));
  const backendName = await chooseBackend(config, target);
  const plan = backendName === 'swarm'
    ? await (await import('./plan/make-swarm-plan.ts')).makeSwarmFloodPlan(config, { ...process.env, ...io.env })
    : targetPlan(hooks.plan?.(backendName) ?? makeFloodPlan(config, backendName), target);
  if (!config.json) io.stderr.write(`${formatPlan(plan)}\n`);
  if (plan.refusals.length > 0 && !config.force) {
    throw new LabError('LAB_ERR_PLAN_REFUSED', `this host cannot run the plan:\n${plan.refusals.map((r) => `  - ${r}`).join('\n')}`, {
      exitCode: EXIT.preflight,
      hint: 'change what is named above, lower --n, or pass --force to run anyway',
    });
  }
  // One flood per host: a second one refuses (or waits, --wait-busy) before anything starts or is written.
  const waitSeconds = config.busyWaitSeconds || waitFromEnv({ ...process.env, ...io.env });
  const lock = await takeFloodLock(
    { backend: plan.backend, n: plan.n },
    { waitMs: waitSeconds * 1000, ...(io.env.LAB_FLOOD_LOCK ? { path: io.env.LAB_FLOOD_LOCK } : {}), onWait: (h) => io.stderr.write(`waiting up to ${waitSeconds} s for the flood of pid ${h.pid} (N=${h.n}, since ${h.startedAt}) to end\n`) },
  );
  try {
    return await floodLocked(config, io, hooks, plan, target);
  } finally {
    lock.release();
  }
}

async function floodLocked(config: FloodConfig, io: FloodIo, hooks: FloodHooks, plan: Plan, target: Target): Promise<FloodResult> {
  // The orchestrator's pid leads the id: a later run reaps the cgroups of one that was killed (cgroup.ts).
  const runId = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const reportDir = config.report ? makeReportDir(config.out, target.kind === 'comet-lab' ? plan.backend : `${plan.backend}-${target.label}`, plan.n) : undefined;
  const logDir = reportDir ? join(reportDir, 'logs') : undefined;
  if (logDir) mkdirSync(logDir);
  const environment = collectEnvironment();
  const targetInfo = { target: targetRecord(target), ...(target.memoryNote ? { memoryNote: target.memoryNote } : {}) };
  if (reportDir) writeRunRecord(reportDir, { config, plan, environment, ...targetInfo });

  const backend = hooks.backend ? hooks.backend(plan, runId) : await makeBackend(plan, runId, config, logDir, target);
  const run = new FloodRun(plan, backend, {
    sampleSeconds: config.sampleSeconds,
    stallSeconds: config.stallSeconds,
    holdSeconds: config.holdSeconds,
    sendsRate: config.sendsRate,
    sendsSeconds: config.sendsSeconds,
    sendsConnections: config.sendsConnections,
    broadcast: config.broadcast,
    broadcastTimeoutSeconds: 30,
    target: { name: target.name, supports: target.supports, messaging: target.messaging, hasStats: target.kind === 'comet-lab' },
    orchestratorNice: ORCHESTRATOR_NICE,
  });
  const ctx: ListenerContext = { plan, config, reportDir, stdout: io.stdout, stderr: io.stderr };
  const listeners: RunListener[] = [];
  const signals = io.signals;
  // The first Ctrl-C stops the run and tears down in order; a second one (a teardown that hangs) exits at once with
  // 130, after the backend has done synchronously what it can and said what may be left.
  const onSignal = (sig: string) => {
    if (!run.aborted || !io.exit) return run.abort(`interrupted by ${sig}`, true);
    let left: string;
    try {
      left = backend.abandon?.() ?? 'the backend may have left components running';
    } catch (err) {
      left = `the backend could not be cleaned up: ${(err as Error).message}`;
    }
    io.stderr.write(`\nsecond ${sig}: exiting now without waiting for the teardown; ${left}\n`);
    io.exit(EXIT.interrupted);
  };
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
  // A target whose server did not start is bad input: everything is stopped already; say why, leave no report.
  const startError = outcome.phases.length <= 2 ? outcome.errors.find((e) => e.code === 'LAB_ERR_TARGET_START') : undefined;
  if (startError) {
    if (reportDir) rmSync(reportDir, { recursive: true, force: true });
    throw new LabError('LAB_ERR_TARGET_START', startError.message, { exitCode: EXIT.usage, hint: `--target ${target.name}: fix the command or the server, then run again` });
  }
  let written: WrittenReport | undefined;
  if (reportDir) {
    writeRunRecord(reportDir, { config, plan: run.plan, environment, outcome, ...targetInfo });
    written = writeReport(reportDir);
    const thresholds = written.summary.thresholds;
    if (config.json) io.stdout.write(`${JSON.stringify({ event: 'report', dir: reportDir, summary: written.document })}\n`);
    else io.stdout.write(`report: ${join(reportDir, 'report.md')} (and report.html, summary.json)\n${summaryLine(written.document)}\n${thresholds ? `${formatThresholdTable(thresholds)}\n` : ''}`);
  }
  const reached = written?.summary.reached.client ?? outcome.ramp?.reached ?? 0;
  const exitCode = exitCodeFor({ outcome, reached, n: run.plan.n, thresholdsFailed: written?.summary.thresholds?.filter((t) => !t.pass).length });
  return { exitCode, plan: run.plan, reportDir, summary: written?.summary, document: written?.document };
}

/**
 * LAB_FLOOD_WAIT also applies to floods started in-process (tests, bench), whose config was built without env and
 * whose io.env is often empty: the process's own environment counts, io.env's value (even empty) wins over it.
 */
function waitFromEnv(env: NodeJS.ProcessEnv): number {
  const s = env.LAB_FLOOD_WAIT ? parseDurationSeconds(env.LAB_FLOOD_WAIT) : 0;
  return Number.isFinite(s) ? s : 0;
}

const fixed = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function perConnection(m: SummaryV1['server']): string {
  if (m.kibPerConnection === undefined) return 'n/a';
  const method = m.perConnectionMethod === 'ramp-slope' ? `slope, R² ${m.fit!.r2.toFixed(3)}` : m.perConnectionMethod === 'growth-over-base' ? `growth over base; fit R² ${m.fit?.r2.toFixed(3) ?? 'n/a'} unreliable` : 'total/N';
  return `${fixed(m.kibPerConnection, 2)} KiB/conn (${method})`;
}

/** One line for the terminal: the verdict, N reached, ramp rate, memory per connection per side, chunks, errors, sends, broadcast. */
export function summaryLine(d: SummaryV1): string {
  const c = d.connections;
  const parts = [
    ...(d.target.kind === 'comet-lab' ? [] : [`target ${d.target.name}`]),
    d.run.verdictText,
    `reached ${fixed(c.reachedClient)}/${fixed(c.asked)} (server ${fixed(c.reachedServer)})`,
    `ramp ${c.rampRate === undefined ? 'n/a' : `${fixed(c.rampRate)}/s`}`,
    d.server.memoryMeasured === false ? 'server memory NOT MEASURED' : `server ${perConnection(d.server)}`,
    `loadgens ${perConnection(d.loadgen)}`,
    d.chunks.applies ? `chunks ${d.chunks.deliveredPct === undefined ? 'n/a' : `${fixed(d.chunks.deliveredPct, 1)}%`}` : 'chunks n/a (long-poll)',
    `errors ${fixed(d.errors.total)}`,
  ];
  if (d.sends) parts.push(`sends ${fixed(d.sends.sustainedRate)}/s of ${fixed(d.sends.askedRate)}/s${d.sends.delivery ? ` (delivery p99 ${fixed(d.sends.delivery.p99Ms, 1)} ms)` : ''}`);
  if (d.broadcast) parts.push(`broadcast ${fixed(d.broadcast.receivedPct, 1)}% reached${d.broadcast.fanOutMs === undefined ? '' : ` in ${fixed(d.broadcast.fanOutMs)} ms`}`);
  if (d.thresholds?.length) parts.push(`thresholds ${d.thresholds.filter((t) => t.passed).length}/${d.thresholds.length} passed`);
  return parts.join(', ');
}
