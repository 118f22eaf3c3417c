/**
 * The run engine: brings the backend up, samples every second, drives the phases (ramp, hold, sends, broadcast)
 * and tears down. It never prints; it emits, and listeners (progress bar, JSON lines, samples.csv, live page,
 * Prometheus exporter) turn events into output:
 *
 * - `phase`   {name, atMs, t}                        a phase starts (up, ramp, hold, sends, broadcast, teardown)
 * - `up`      {components: ComponentRecord[]}        every component answers; URLs for scrapers
 * - `sample`  RunSample                              once per sample interval, from `up` until teardown
 * - `error`   {atMs, component?, code, message}      only emitted when someone listens (an unheard `error` throws)
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
import type { RunOutcome } from './outcome.ts';
import type { PhaseContext } from './phase-context.ts';
import { rampPhase } from './ramp-phase.ts';
import { HealthWatch } from './health-watch.ts';
import { takeSample, type SampleResult } from './sampler.ts';
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
}

export class FloodRun extends EventEmitter {
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

  /** Stops the run at the next step; `interrupted` marks a user's Ctrl-C rather than a failure. */
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
      this.plan = await this.backend.up(this.plan);
      if (signal.aborted) throw signal.reason;
      const components = this.backend.components();
      this.outcome.components = components.map((c) => ({ name: c.name, role: c.role, url: c.url, ...(c.node ? { node: c.node } : {}) }));
      this.emit('up', { components: this.outcome.components });
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
      if (this.options.sendsRate > 0) {
        this.enter('sends');
        this.outcome.sends = await sendsPhase(ctx, this.options.sendsRate, this.options.sendsSeconds, this.options.sendsConnections);
        signal.throwIfAborted();
      }
      if (this.options.broadcast) {
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
    };
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
    const e = { atMs: Date.now(), ...(component ? { component } : {}), code, message };
    this.outcome.errors.push(e);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  private async sampleOnce(components: Component[]): Promise<SampleResult> {
    const res = await takeSample({ components, startedAtMs: this.startedAtMs, phase: this.phase, target: this.target });
    this.latest = res;
    for (const [name, s] of res.loadgenStatuses) this.lastStatuses.set(name, s);
    if (res.serverStats) this.outcome.final.server = res.serverStats;
    return res;
  }

  private async sampleLoop(components: Component[]): Promise<void> {
    this.sampling = true;
    const period = this.options.sampleSeconds * 1000;
    const server = components.find((c) => c.role === 'server');
    this.health = new HealthWatch(period, (e) => this.report(e.kind === 'worker-died' ? 'server' : undefined, e.kind === 'worker-died' ? 'LAB_WARN_WORKER_DIED' : 'LAB_WARN_STALL', e.message));
    this.health.start();
    let next = Date.now();
    while (this.sampling) {
      const res = await this.sampleOnce(components);
      if (!this.sampling) break; // teardown began while this sample was taken: its figures may be half-stopped
      this.health.sample(res.sample.atMs, res.serverStats, res.serverStats !== undefined || !server || server.exited() !== undefined);
      for (const c of res.sample.components) {
        if (!c.up && !this.outcome.errors.some((e) => e.component === c.name)) {
          this.report(c.name, 'LAB_ERR_COMPONENT_DIED', `${c.name} died: ${c.exited}`);
          this.abort(`${c.name} died: ${c.exited}`);
        }
      }
      this.emit('sample', res.sample);
      next += period;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now();
    }
  }

  private async teardown(sampler: Promise<void> | undefined): Promise<void> {
    this.enter('teardown');
    this.sampling = false;
    await sampler;
    this.health?.stop();
    if (this.health?.reasons.length) this.outcome.degraded = [...this.health.reasons];
    const components = this.backend.components();
    // One last reading of every counter (errors by cause, chunks, latency) before anything is stopped.
    if (components.length > 0) await this.sampleOnce(components).catch(() => undefined);
    this.outcome.final.loadgens = Object.fromEntries(this.lastStatuses);
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
