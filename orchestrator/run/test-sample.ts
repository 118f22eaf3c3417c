/**
 * RunSamples for tests of the listeners (exporter, live page, CSV, report): every required field filled with what a
 * quiet run would give, so a test states only what it is about.
 */
import { ERROR_CAUSES, type ErrorCause } from '../../shared/contracts.ts';
import type { ClientCounters, ComponentSample, RunSample } from './sample.ts';

export const noErrors = (): Record<ErrorCause, number> => Object.fromEntries(ERROR_CAUSES.map((c) => [c, 0])) as Record<ErrorCause, number>;

export interface TestSampleOptions {
  t?: number;
  /** Epoch ms of the run's start (atMs = start + t). */
  startMs?: number;
  phase?: string;
  target?: number;
  /** Connections held, both sides (override one with `connections`). */
  conns?: number;
  connections?: RunSample['connections'];
  client?: Partial<ClientCounters> | null;
  server?: RunSample['server'] | null;
  components?: ComponentSample[];
  kernelTcpBytes?: number;
  kernelSlabBytes?: number;
}

export function testSample(o: TestSampleOptions = {}): RunSample {
  const t = o.t ?? 0;
  const conns = o.conns ?? 0;
  return {
    atMs: (o.startMs ?? 1_800_000_000_000) + Math.round(t * 1000),
    t,
    phase: o.phase ?? 'ramp',
    target: o.target ?? 100,
    connections: o.connections ?? { server: conns, client: conns },
    client: o.client === null ? undefined : { connecting: 0, closed: 0, chunks: 0, messages: 0, errors: 0, errorsByCause: noErrors(), ...o.client },
    server: o.server === null ? undefined : (o.server ?? { chunksSent: 0, messagesSent: 0, eventLoopLagMs: 1 }),
    components: o.components ?? [],
    kernelTcpBytes: o.kernelTcpBytes ?? 0,
    tcpInuse: 2 * conns,
    ...(o.kernelSlabBytes === undefined ? {} : { kernelSlabBytes: o.kernelSlabBytes }),
  };
}
