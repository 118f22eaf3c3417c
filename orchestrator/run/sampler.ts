/**
 * Takes one RunSample: asks the server and every load generator for their counts, reads every component's memory
 * probe and /proc/net/sockstat, all in parallel. A component that does not answer leaves its figures absent; the
 * run decides from `Component.exited()` whether it died.
 */
import type { Component } from '../backends/backend.ts';
import type { LoadgenStatus, ServerStats } from '../../shared/contracts.ts';
import { loadgenStatus, serverStats } from './control.ts';
import type { ComponentSample, RunSample } from './sample.ts';
import { readSlabBytes, readSockstat } from './sockstat.ts';

export interface SampleContext {
  components: Component[];
  startedAtMs: number;
  phase: string;
  target: number;
}

export interface SampleResult {
  sample: RunSample;
  serverStats?: ServerStats;
  loadgenStatuses: Map<string, LoadgenStatus>;
}

const settle = async <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);

export async function takeSample(ctx: SampleContext): Promise<SampleResult> {
  const atMs = Date.now();
  const server = ctx.components.find((c) => c.role === 'server');
  const loadgens = ctx.components.filter((c) => c.role === 'loadgen');
  const [stats, statuses, memories] = await Promise.all([
    server && !server.exited() ? settle(serverStats(server.url)) : undefined,
    Promise.all(loadgens.map((l) => (l.exited() ? undefined : settle(loadgenStatus(l.url))))),
    Promise.all(ctx.components.map((c) => settle(c.probe.read()))),
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
      ...(c.node ? { node: c.node } : {}),
      ...(m ? { workingSetBytes: m.workingSetBytes, kernelSocketBytes: m.kernelSocketBytes, kernelBytes: m.kernelBytes, cpuSeconds: m.cpuSeconds, method: m.method } : {}),
      ...(m?.crossCheck ? { crossCheckWorkingSetBytes: m.crossCheck.workingSetBytes } : {}),
    };
  });
  const sock = readSockstat();
  return {
    sample: {
      atMs,
      t: (atMs - ctx.startedAtMs) / 1000,
      phase: ctx.phase,
      target: ctx.target,
      connections: { server: stats?.open.total, client: answered.length ? sum((s) => s.active) : undefined },
      client: answered.length
        ? {
            connecting: sum((s) => s.connecting),
            closed: sum((s) => s.closed),
            chunks: sum((s) => s.chunks),
            messages: sum((s) => s.messages),
            errors: sum((s) => Object.values(s.errors).reduce((a, b) => a + b, 0)),
          }
        : undefined,
      server: stats ? { chunksSent: stats.chunksSent, messagesSent: stats.messagesSent, eventLoopLagMs: stats.eventLoopLagMs } : undefined,
      components,
      kernelTcpBytes: sock.memBytes,
      tcpInuse: sock.inuse,
      kernelSlabBytes: readSlabBytes(),
    },
    serverStats: stats,
    loadgenStatuses: byName,
  };
}
