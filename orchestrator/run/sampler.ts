/**
 * Takes one RunSample: asks the server and every load generator for their counts, reads every component's memory
 * probe and /proc/net/sockstat, all at once. It never asks a component that has not answered an earlier sample's
 * request yet (`pending`): a slow component (the server's /stats took 1-10 s during a 1,000,000 ramp on 2 cores)
 * leaves its figures absent from the samples taken meanwhile instead of piling requests on it; `budgetMs` bounds the
 * wait where a caller needs that. Sums over components are given only when every running component answered (a sum
 * over some would read as a drop); the server's counts only when every worker answered (its /stats leaves out a
 * worker that is 2 s late, and then says 0 for it). The run decides from `Component.exited()` whether one died.
 */
import type { Component } from '../backends/backend.ts';
import { ERROR_CAUSES, type ErrorCause, type LatencySummary, type LoadgenStatus, type ServerStats } from '../../shared/contracts.ts';
import { mergePaces } from '../../shared/pace.ts';
import { loadgenStatus, serverStats } from './control.ts';
import type { ComponentSample, LatencyPercentiles, RunSample } from './sample.ts';
import { readSlabBytes, readSockstat } from './sockstat.ts';
import type { KernelConnectionCounter } from './kernel-connections.ts';

export interface SampleContext {
  components: Component[];
  /** Counts the server's connections in the kernel; absent: the server's /stats count is used. */
  counter?: KernelConnectionCounter;
  /** Ask the server's GET /stats (comet-lab's API; other targets have none). */
  askStats?: boolean;
  startedAtMs: number;
  phase: string;
  target: number;
  /** Longest wait for the components' answers (ms); absent: each request's own timeout. */
  budgetMs?: number;
  /** Names of components whose previous request is still out (kept by the caller across samples). */
  pending?: Set<string>;
  /** Names of components whose request failed (an error or its own timeout) since a sample last looked. */
  failed?: Set<string>;
}

export interface SampleResult {
  sample: RunSample;
  /** The server's /stats when it answered in time with every worker counted. */
  serverStats?: ServerStats;
  /**
   * true: the server answered in time (some workers may be missing from it); false: a request to it failed (an error
   * or its own 10 s timeout) since the last sample; undefined: still answering, or not asked because of that.
   */
  serverAnswered: boolean | undefined;
  loadgenStatuses: Map<string, LoadgenStatus>;
}

/** The load generator with the worst p99 (percentiles of different histograms cannot be merged). */
function worstLatency(list: LatencySummary[]): LatencyPercentiles | undefined {
  const worst = list.filter((l) => l.count > 0).sort((a, b) => b.p99 - a.p99)[0];
  return worst ? { p50: worst.p50, p99: worst.p99, count: worst.count } : undefined;
}

/** ServerStats as comet-lab's server gives it: how many workers answered its own 2 s round. */
type StatsWithReady = ServerStats & { workersReady?: number };

const settle = async <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
const round = (ms: number) => Math.round(ms * 10) / 10;

export async function takeSample(ctx: SampleContext): Promise<SampleResult> {
  const atMs = Date.now();
  const t0 = performance.now();
  const server = ctx.components.find((c) => c.role === 'server');
  const loadgens = ctx.components.filter((c) => c.role === 'loadgen');
  const pending = ctx.pending ?? new Set<string>();
  const failed = ctx.failed ?? new Set<string>();
  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    if (ctx.budgetMs !== undefined) deadline = setTimeout(() => resolve(undefined), ctx.budgetMs);
  });
  // Where a sample's time goes: the server's answer, the slowest load generator's, the probes (read at once).
  let serverMs = 0;
  let loadgenMs = 0;
  /** Asks `c` unless its last request is still out; resolves with the answer, or undefined when late or failed. */
  const ask = <T>(c: Component, call: () => Promise<T>, took: (ms: number) => void): Promise<T | undefined> => {
    if (c.exited() || pending.has(c.name)) return Promise.resolve(undefined);
    pending.add(c.name);
    const answer = call().then(
      (v) => (took(performance.now() - t0), v),
      () => (failed.add(c.name), undefined),
    );
    void answer.finally(() => pending.delete(c.name));
    return Promise.race([answer, late]);
  };
  const asked = [
    server && ctx.askStats !== false ? ask(server, () => serverStats(server.url), (ms) => (serverMs = ms)) : undefined,
    Promise.all(loadgens.map((l) => ask(l, () => loadgenStatus(l.url), (ms) => (loadgenMs = Math.max(loadgenMs, ms))))),
  ] as const;
  // Timed to the last probe's answer: a probe's reading may be asynchronous (docker stats, a component's /status), so
  // the time to start the reads says nothing.
  const p0 = performance.now();
  let probesMs = 0;
  const probed = Promise.all(ctx.components.map((c) => settle(c.probe.read()))).then((m) => ((probesMs = performance.now() - p0), m));
  // The kernel's count of the server's connections: any target's, comet-lab's too (its /stats count is the cross-check).
  const counted = ctx.counter ? settle(ctx.counter.sample(ctx.phase, ctx.budgetMs)) : undefined;
  const [answer, statuses, memories, kernel] = await Promise.all([asked[0], asked[1], probed, counted]);
  clearTimeout(deadline);
  const byName = new Map<string, LoadgenStatus>();
  statuses.forEach((s, i) => s && byName.set(loadgens[i]!.name, s));
  const answered = statuses.filter((s): s is LoadgenStatus => s !== undefined);
  const running = loadgens.filter((l) => !l.exited()).length;
  const complete = answered.length > 0 && answered.length >= running;
  const sum = (f: (s: LoadgenStatus) => number) => answered.reduce((a, s) => a + f(s), 0);
  const ready = (answer as StatsWithReady | undefined)?.workersReady;
  const stats = answer && (ready === undefined || ready >= answer.workers) ? answer : undefined;
  const components: ComponentSample[] = ctx.components.map((c, i) => {
    const m = memories[i];
    const exited = c.exited();
    return {
      name: c.name,
      role: c.role,
      up: exited === undefined,
      ...(exited ? { exited } : {}),
      ...(c.node ? { node: c.node } : {}),
      ...(m ? { workingSetBytes: m.workingSetBytes, kernelSocketBytes: m.kernelSocketBytes, kernelBytes: m.kernelBytes, cpuSeconds: m.cpuSeconds, method: m.method } : {}),
      ...(m?.crossCheck ? { crossCheckWorkingSetBytes: m.crossCheck.workingSetBytes } : {}),
    };
  });
  const latency = worstLatency(answered.map((s) => s.latencyMs));
  // The server's idle-GC report (`idleGc` in /stats, coming with the server's own changes): read where present.
  const idleGc = stats?.idleGc;
  const missing = (server && !server.exited() && ctx.askStats !== false && !answer ? 1 : 0) + (running - answered.length);
  const sock = readSockstat();
  const pace = complete ? mergePaces(answered.map((s) => s.pace)) : undefined;
  const cpu = process.cpuUsage();
  return {
    sample: {
      atMs,
      t: (atMs - ctx.startedAtMs) / 1000,
      phase: ctx.phase,
      target: ctx.target,
      connections: {
        server: ctx.counter ? kernel?.connections : stats?.open.total,
        client: complete ? sum((s) => s.active) : undefined,
        ...(ctx.counter && stats ? { serverReported: stats.open.total } : {}),
      },
      ...(kernel ? { serverCount: { method: kernel.method, ageMs: atMs - kernel.atMs } } : stats ? { serverCount: { method: 'the server\'s /stats', ageMs: 0 } } : {}),
      client: complete
        ? {
            connecting: sum((s) => s.connecting),
            closed: sum((s) => s.closed),
            chunks: sum((s) => s.chunks),
            messages: sum((s) => s.messages),
            errors: sum((s) => Object.values(s.errors).reduce((a, b) => a + b, 0)),
            errorsByCause: Object.fromEntries(ERROR_CAUSES.map((c) => [c, sum((s) => s.errors[c] ?? 0)])) as Record<ErrorCause, number>,
            ...(latency ? { latencyMs: latency } : {}),
          }
        : undefined,
      server: stats
        ? {
            chunksSent: stats.chunksSent,
            messagesSent: stats.messagesSent,
            eventLoopLagMs: stats.eventLoopLagMs,
            ...(stats.deliveryMs?.count ? { deliveryMs: { p50: stats.deliveryMs.p50, p99: stats.deliveryMs.p99, count: stats.deliveryMs.count } } : {}),
            ...(idleGc ? { idleGc: { count: idleGc.count, lastAtMs: idleGc.lastAtMs } } : {}),
          }
        : undefined,
      components,
      kernelTcpBytes: sock.memBytes,
      tcpInuse: sock.inuse,
      kernelSlabBytes: readSlabBytes(),
      ...(pace ? { pace } : {}),
      orchestrator: {
        sampleMs: round(performance.now() - t0),
        serverMs: round(serverMs),
        loadgenMs: round(loadgenMs),
        probesMs: round(probesMs),
        missing,
        ...(answer && !stats ? { serverPartial: true } : {}),
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      },
    },
    serverStats: stats,
    serverAnswered: server && failed.delete(server.name) ? false : answer !== undefined ? true : undefined,
    loadgenStatuses: byName,
  };
}
