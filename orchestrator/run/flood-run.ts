/**
 * The run engine: brings the backend up, samples every second, drives the phases (ramp, hold, sends, broadcast)
 * and tears down. It never prints; it emits, and listeners (progress bar, JSON lines, samples.csv, live page,
 * Prometheus exporter) turn events into output:
 *
 * - `phase`   {name, atMs, t}                        a phase starts (up, ramp, hold, sends, broadcast, teardown)
 * - `up`      {components: ComponentRecord[]}        every component answers; URLs for scrapers
 * - `sample`  RunSample                              once per sample interval, from `up` until teardown
 * - `error`   {atMs, component?, code, message}      only emitted when someone listens (an unheard `error` throws)
 * - `skip`    {phase, reason}                        a phase the target cannot do (sends, broadcast) is not run
 * - `done`    RunOutcome                             after teardown, whatever happened
 *
 * A component that dies stops the run: the run records which and why, tears down, and its outcome says incomplete.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, Component } from '../backends/backend.ts';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { LabError } from '../../shared/errors.ts';
import type { Plan } from '../plan/plan.ts';
import { broadcastPhase } from './broadcast-phase.ts';
import { stopLoadgen } from './control.ts';
import type { ComponentRecord, RunError, RunOutcome } from './outcome.ts';
import { SamplingLog } from './sampling-record.ts';
import type { PhaseContext } from './phase-context.ts';
import { rampPhase } from './ramp-phase.ts';
import { HealthWatch } from './health-watch.ts';
import type { RunSample } from './sample.ts';
import { takeSample, type SampleResult } from './sampler.ts';
import { KernelConnectionCounter } from './kernel-connections.ts';
import type { TargetMessaging } from '../targets/target.ts';
import { sendsPhase } from './sends-phase.ts';

export interface RunOptions {
  sampleSeconds: number;
  stallSeconds: number;
  holdSeconds: number;
  sendsRate: number;
  sendsSeconds: number;
  /** autocannon's concurrent connections (default DEFAULT_SENDS_CONNECTIONS). */
  sendsConnections?: number;
  broadcast: boolean;
  broadcastTimeoutSeconds: number;
  /** The server under test, when it is not comet-lab's own (orchestrator/targets/): what it supports, how to message it. */
  target?: RunTarget;
  /**
   * Nice value for the orchestrator while it samples (set after every component started, so they keep theirs).
   * With ~120 busy lab processes on 2 cores a nice-0 orchestrator waited its turn behind each: samples came 100 s
   * apart in a 1,000,000 run. Undefined: left as it is.
   */
  orchestratorNice?: number;
}

export interface RunTarget {
  /** Its name for the report's lines (`nchan`, `cmd:...`). */
  name: string;
  supports: { sends: boolean; broadcast: boolean };
  messaging?: TargetMessaging;
  /** The server answers comet-lab's GET /stats (its count is then a cross-check of the kernel's). */
  hasStats: boolean;
}

/** A phase begins: `t` is seconds since the run started, on the same clock as every sample's `t`. */
export interface PhaseEvent {
  name: string;
  atMs: number;
  t: number;
}

/** The run's events, typed once: listeners take these payloads as they are. */
export interface FloodRunEvents {
  phase: [PhaseEvent];
  up: [{ components: ComponentRecord[] }];
  sample: [RunSample];
  error: [RunError];
  /** A phase the target cannot do, skipped (not failed). */
  skip: [{ phase: string; reason: string }];
  done: [RunOutcome];
}

/** What a listener needs of a run: to subscribe and unsubscribe (a FloodRun, or a test's own emitter). */
export type RunEventSource = Pick<EventEmitter<FloodRunEvents>, 'on' | 'off'>;

/** Samples whose answers may be awaited at once before a tick is skipped (each waits at most SAMPLE_WAIT_PERIODS). */
const MAX_SAMPLES_IN_FLIGHT = 4;
/**
 * How long a sample waits for answers, in periods: samples are emitted in order, so this is also how late one can
 * be (the health watch calls 5 s without a sample a stall). The server's /stats answered in about 1-2 s while a
 * 1,000,000 were held on 2 cores; a later answer leaves the server's figures out of that sample.
 */
const SAMPLE_WAIT_PERIODS = 2.5;

export class FloodRun extends EventEmitter<FloodRunEvents> {
  /** The plan given, then (once the backend is up) the plan the backend adopted: what the run drives and reports. */
  plan: Plan;
  readonly backend: Backend;
  readonly options: RunOptions;
  phase = 'init';
  private readonly controller = new AbortController();
  private readonly outcome: RunOutcome;
  private latest: SampleResult | undefined;
  private target = 0;
  private sampling = false;
  private health: HealthWatch | undefined;
  private readonly lastStatuses = new Map<string, LoadgenStatus>();
  private counter: KernelConnectionCounter | undefined;
  private readonly samplingLog = new SamplingLog();
  /** Components whose last request has not been answered yet: not asked again until it is. */
  private readonly pending = new Set<string>();
  /** Components whose request failed since a sample last looked (the health watch hears of the server's). */
  private readonly failed = new Set<string>();

  constructor(plan: Plan, backend: Backend, options: RunOptions) {
    super();
    this.plan = plan;
    this.backend = backend;
    this.options = options;
    const now = Date.now();
    this.outcome = { startedAtMs: now, endedAtMs: now, phases: [], components: [], final: { loadgens: {} }, interrupted: false, errors: [] };
  }

  get startedAtMs(): number {
    return this.outcome.startedAtMs;
  }

  /** abort() was called: a later Ctrl-C is the user's second. */
  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /**
   * Stops the run at the next step, and the backend's up() at once (it gets the run's signal); `interrupted` marks a
   * user's Ctrl-C rather than a failure. A second call changes nothing (flood.ts exits on a second Ctrl-C).
   */
  abort(reason: string, interrupted = false): void {
    if (this.controller.signal.aborted) return;
    this.outcome.incomplete ??= reason;
    this.outcome.interrupted ||= interrupted;
    this.controller.abort(new LabError(interrupted ? 'LAB_ERR_INTERRUPTED' : 'LAB_ERR_RUN_ABORTED', reason));
  }

  /** Carries the run out. Resolves with the outcome in every case; failures are in `outcome.incomplete`. */
  async run(): Promise<RunOutcome> {
    const signal = this.controller.signal;
    let sampler: Promise<void> | undefined;
    try {
      this.enter('up');
      this.plan = await this.backend.up(this.plan, signal);
      if (signal.aborted) throw signal.reason;
      const components = this.backend.components();
      this.outcome.components = components.map((c) => ({ name: c.name, role: c.role, url: c.url, ...(c.node ? { node: c.node } : {}) }));
      this.emit('up', { components: this.outcome.components });
      const listen = components.find((c) => c.role === 'server')?.listen;
      const peers = [...new Set(this.plan.loadgens.flatMap((l) => l.sourceAddresses))];
      if (listen) this.counter = new KernelConnectionCounter({ ...listen, ...(peers.length ? { peers } : {}) });
      this.samplingLog.start(this.options.orchestratorNice);
      sampler = this.sampleLoop(components);
      const ctx = this.context(components);
      this.enter('ramp');
      this.outcome.ramp = await rampPhase(ctx, this.options.stallSeconds);
      if (this.outcome.ramp.endedBy !== 'target' && this.outcome.ramp.endedBy !== 'aborted') {
        this.report(undefined, 'LAB_ERR_TARGET_MISSED', `the ramp ${this.outcome.ramp.endedBy} at ${this.outcome.ramp.reached} of ${this.plan.n} connections`);
      }
      signal.throwIfAborted();
      this.enter('hold');
      await sleep(this.options.holdSeconds * 1000, undefined, { signal });
      const target = this.options.target;
      if (this.options.sendsRate > 0 && target && !target.supports.sends) this.skip('sends', `${target.name} has no API to send to one connection`);
      else if (this.options.sendsRate > 0) {
        this.enter('sends');
        this.outcome.sends = await sendsPhase(ctx, this.options.sendsRate, this.options.sendsSeconds, this.options.sendsConnections);
        signal.throwIfAborted();
      }
      if (this.options.broadcast && target && !target.supports.broadcast) this.skip('broadcast', `${target.name} has no API to publish to every connection`);
      else if (this.options.broadcast) {
        this.enter('broadcast');
        this.outcome.broadcast = await broadcastPhase(ctx, this.options.broadcastTimeoutSeconds);
        signal.throwIfAborted();
      }
    } catch (err) {
      if (!signal.aborted) {
        const e = err as LabError;
        this.report(undefined, e.code ?? 'LAB_ERR_RUN', e.message);
        this.outcome.incomplete ??= e.message;
      }
    }
    await this.teardown(sampler);
    return this.outcome;
  }

  private context(components: Component[]): PhaseContext {
    const server = components.find((c) => c.role === 'server');
    if (!server) throw new LabError('LAB_ERR_NO_SERVER', 'the backend started no server');
    const loadgens = this.plan.loadgens.map((lp) => {
      const c = components.find((x) => x.name === lp.name);
      if (!c) throw new LabError('LAB_ERR_NO_LOADGEN', `the backend did not start ${lp.name}`);
      return c;
    });
    return {
      plan: this.plan,
      server,
      loadgens,
      signal: this.controller.signal,
      latest: () => this.latest,
      setTarget: (n) => (this.target = n),
      messaging: this.options.target?.messaging,
    };
  }

  /** A phase the target cannot do: not run, not failed; the report says why. */
  private skip(phase: string, why: string): void {
    (this.outcome.skipped ??= []).push({ phase, reason: why });
    this.emit('skip', { phase, reason: why });
  }

  private enter(name: string): void {
    const now = Date.now();
    const prev = this.outcome.phases.at(-1);
    if (prev && prev.endMs === undefined) prev.endMs = now;
    this.outcome.phases.push({ name, startMs: now });
    this.phase = name;
    this.emit('phase', { name, atMs: now, t: (now - this.startedAtMs) / 1000 });
  }

  private report(component: string | undefined, code: string, message: string): void {
    const e: RunError = { atMs: Date.now(), ...(component ? { component } : {}), code, message };
    this.outcome.errors.push(e);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  private async sampleOnce(components: Component[], budgetMs?: number): Promise<SampleResult> {
    if (this.counter?.method) this.outcome.serverCount = `kernel: ${this.counter.method}`;
    const res = await takeSample({
      components, startedAtMs: this.startedAtMs, phase: this.phase, target: this.target, counter: this.counter,
      askStats: this.options.target?.hasStats ?? true, budgetMs, pending: this.pending, failed: this.failed,
    });
    this.samplingLog.taken(res.sample);
    if (!this.latest || res.sample.atMs >= this.latest.sample.atMs) this.latest = res;
    for (const [name, s] of res.loadgenStatuses) this.lastStatuses.set(name, s);
    if (res.serverStats) this.outcome.final.server = res.serverStats;
    return res;
  }

  /**
   * Starts a sample every period on the clock without waiting for the previous one's answers: a component slow to
   * answer (the server's /stats took 120-400 ms at 100,000 connections and 1-10 s during a 1,000,000 ramp) must not
   * stretch the period. Each sample holds what the components answered to the requests made at its time; a
   * component still answering an earlier sample is not asked again (its figures are absent from the samples in
   * between). Samples are emitted in the order they were started. At most MAX_SAMPLES_IN_FLIGHT are out at once; a
   * tick beyond that is skipped and counted (`sampling.skipped` in run.json).
   */
  private async sampleLoop(components: Component[]): Promise<void> {
    this.sampling = true;
    const period = this.options.sampleSeconds * 1000;
    const server = components.find((c) => c.role === 'server');
    this.health = new HealthWatch(period, (e) => this.report(e.kind === 'worker-died' ? 'server' : undefined, e.kind === 'worker-died' ? 'LAB_WARN_WORKER_DIED' : 'LAB_WARN_STALL', e.message));
    this.health.start();
    let next = Date.now();
    let inFlight = 0;
    let emitted: Promise<void> = Promise.resolve();
    while (this.sampling) {
      if (inFlight < MAX_SAMPLES_IN_FLIGHT) {
        inFlight++;
        const taking = this.sampleOnce(components, SAMPLE_WAIT_PERIODS * period).finally(() => inFlight--);
        emitted = emitted.then(async () => {
          const res = await taking.catch(() => undefined);
          if (!res || !this.sampling) return; // teardown began while this sample was taken: its figures may be half-stopped
          if (res.serverAnswered === undefined && res.sample.server === undefined) this.samplingLog.late();
          // Late (still answering) is no silence yet; a request that failed or timed out (10 s) is.
          this.health?.sample(res.sample.atMs, res.serverStats, res.serverAnswered !== false || !server || server.exited() !== undefined);
          for (const c of res.sample.components) {
            if (!c.up && !this.outcome.errors.some((e) => e.component === c.name)) {
              this.report(c.name, 'LAB_ERR_COMPONENT_DIED', `${c.name} died: ${c.exited}`);
              this.abort(`${c.name} died: ${c.exited}`);
            }
          }
          this.emit('sample', res.sample);
        });
      } else {
        this.samplingLog.skip();
      }
      next += period;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now();
    }
    await emitted;
  }

  private async teardown(sampler: Promise<void> | undefined): Promise<void> {
    this.enter('teardown');
    this.sampling = false;
    await sampler;
    const sampling = this.samplingLog.record(); // the loop's samples only: the last reading below is not periodic
    if (sampling) this.outcome.sampling = sampling;
    this.health?.stop();
    if (this.health?.reasons.length) this.outcome.degraded = [...this.health.reasons];
    const components = this.backend.components();
    // One last reading of every counter (errors by cause, chunks, latency) before anything is stopped.
    if (components.length > 0) await this.sampleOnce(components).catch(() => undefined);
    this.outcome.final.loadgens = Object.fromEntries(this.lastStatuses);
    this.samplingLog.stop();
    for (const rec of this.outcome.components) {
      const c = components.find((x) => x.name === rec.name);
      const m = this.latest?.sample.components.find((x) => x.name === rec.name);
      if (m?.method) rec.method = m.method;
      const exited = c?.exited();
      if (exited) rec.exited = exited;
    }
    await Promise.all(components.filter((c) => c.role === 'loadgen' && !c.exited()).map((c) => stopLoadgen(c.url, c.token).catch(() => undefined)));
    try {
      await this.backend.stop();
    } catch (err) {
      this.report(undefined, (err as LabError).code ?? 'LAB_ERR_TEARDOWN', `teardown: ${(err as Error).message}`);
    }
    const events = this.backend.events?.() ?? [];
    if (events.length) this.outcome.backendEvents = events;
    const last = this.outcome.phases.at(-1)!;
    last.endMs = Date.now();
    this.outcome.endedAtMs = last.endMs;
    this.phase = 'done';
    this.emit('done', this.outcome);
  }
}
