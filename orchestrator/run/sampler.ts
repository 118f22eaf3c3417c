/**
 * Takes one RunSample: asks the server and every load generator for their counts, reads every component's memory
 * probe and /proc/net/sockstat, all in parallel. A component that does not answer leaves its figures absent; the
 * run decides from `Component.exited()` whether it died.
 */
import type { Component } from '../backends/backend.ts';
import { ERROR_CAUSES, type ErrorCause, type LatencySummary, type LoadgenStatus, type ServerStats } from '../../shared/contracts.ts';
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
}

export interface SampleResult {
  sample: RunSample;
  serverStats?: ServerStats;
  loadgenStatuses: Map<string, LoadgenStatus>;
}

/** The load generator with the worst p99 (percentiles of different histograms cannot be merged). */
function worstLatency(list: LatencySummary[]): LatencyPercentiles | undefined {
  const worst = list.filter((l) => l.count > 0).sort((a, b) => b.p99 - a.p99)[0];
  return worst ? { p50: worst.p50, p99: worst.p99, count: worst.count } : undefined;
}

const settle = async <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);

export async function takeSample(ctx: SampleContext): Promise<SampleResult> {
  const atMs = Date.now();
  const server = ctx.components.find((c) => c.role === 'server');
  const loadgens = ctx.components.filter((c) => c.role === 'loadgen');
  const [stats, statuses, memories, kernel] = await Promise.all([
    server && !server.exited() && ctx.askStats !== false ? settle(serverStats(server.url)) : undefined,
    Promise.all(loadgens.map((l) => (l.exited() ? undefined : settle(loadgenStatus(l.url))))),
    Promise.all(ctx.components.map((c) => settle(c.probe.read()))),
    ctx.counter ? settle(ctx.counter.sample(ctx.phase)) : undefined,
  ]);
  const byName = new Map<string, LoadgenStatus>();
  statuses.forEach((s, i) => s && byName.set(loadgens[i]!.name, s));
  const answered = statuses.filter((s): s is LoadgenStatus => s !== undefined);
  const sum = (f: (s: LoadgenStatus) => number) => answered.reduce((a, s) => a + f(s), 0);
  const components: ComponentSample[] = ctx.components.map((c, i) => {
    const m = memories[i];
    const exited = c.exited();
    return {
      name: c.name,
      role: c.role,
      up: exited === undefined,
      ...(exited ? { exited } : {}),
      ...(m ? { workingSetBytes: m.workingSetBytes, kernelSocketBytes: m.kernelSocketBytes, kernelBytes: m.kernelBytes, cpuSeconds: m.cpuSeconds, method: m.method } : {}),
    };
  });
  const latency = worstLatency(answered.map((s) => s.latencyMs));
  // The server's idle-GC report (`idleGc` in /stats, coming with the server's own changes): read where present.
  const idleGc = (stats as (ServerStats & { idleGc?: { count: number; lastAtMs: number } }) | undefined)?.idleGc;
  const sock = readSockstat();
  return {
    sample: {
      atMs,
      t: (atMs - ctx.startedAtMs) / 1000,
      phase: ctx.phase,
      target: ctx.target,
      connections: {
        server: ctx.counter ? kernel?.connections : stats?.open.total,
        client: answered.length ? sum((s) => s.active) : undefined,
        ...(ctx.counter && stats ? { serverReported: stats.open.total } : {}),
      },
      ...(kernel ? { serverCount: { method: kernel.method, ageMs: atMs - kernel.atMs } } : stats ? { serverCount: { method: 'the server\'s /stats', ageMs: 0 } } : {}),
      client: answered.length
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
    },
    serverStats: stats,
    loadgenStatuses: byName,
  };
}
