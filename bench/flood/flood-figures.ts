/**
 * The figures of one flood, computed from what the orchestrator left (summary, outcome inside it) and what the
 * bench captured (samples, /proc/stat and cgroup readings at phase changes). Pure: no I/O, so it is easy to check.
 */
import { availableParallelism } from 'node:os';
import type { ErrorCause, LatencySummary } from '../../shared/contracts.ts';
import type { Plan } from '../../orchestrator/plan/plan.ts';
import type { Summary } from '../../orchestrator/report/summarize.ts';
import type { RunSample } from '../../orchestrator/run/sample.ts';
import { cpuUse, type CpuUse } from '../proc-stat.ts';
import type { FloodCapture, PhaseMark } from './flood-capture.ts';

export interface Percentiles {
  /** Count-weighted mean of the load generators' p50s (each holds an HDR histogram of its own connections). */
  p50Ms?: number;
  /** The largest of the load generators' p99s: an upper bound of the p99 over every connection. */
  p99Ms?: number;
  maxMs?: number;
  count: number;
}

export interface SideMemory {
  processes: number;
  slopeBytes?: number;
  slopeR2?: number;
  /** Mean working set over the hold / connections held: the process bases included. */
  totalPerConnectionBytes?: number;
  holdBytes?: number;
  /** Growth from the ramp's start to N reached, from the cgroups, per connection: kernel (kmem + tcp) and user. */
  growthPerConnection?: { total: number; user: number; kernel: number };
  /** At the end of the hold, from the cgroups: kernel (kmem + tcp buffers) and user space, bytes. */
  kernelBytes?: number;
  userBytes?: number;
  tcpBufferBytes?: number;
}

export interface FloodFigures {
  nAsked: number;
  /** What the connections spoke (absent in results from before WebSocket: chunked). */
  transport?: string;
  n: number;
  capacity: { maxN: number; limitedBy: string; fits: boolean; planRefusal?: string };
  complete: boolean;
  incomplete?: string;
  timedOut: boolean;
  reached: { client: number; server: number };
  secondsToTarget?: number;
  rampSeconds?: number;
  rampRate?: number;
  askedRate: number;
  rampEndedBy?: string;
  server: SideMemory & { engine: string; workers: number };
  loadgen: SideMemory;
  memoryMethod: { server: string; loadgen: string };
  kernel: { tcpBytesAtHold?: number; perConnectionBytes?: number; socketsInUse?: number; method: string };
  chunks: { intervalSeconds: number; holdSeconds?: number; expected?: number; received?: number; ratio?: number; expectedPerSecond?: number; receivedPerSecond?: number };
  cpu: {
    holdSeconds?: number;
    serverSeconds?: number;
    loadgenSeconds?: number;
    serverChunks?: number;
    clientChunks?: number;
    serverUsPerChunk?: number;
    /** The server's sent count fell over the hold (workers missed samples): server µs are per received chunk. */
    serverChunksUnusable?: boolean;
    /** The hold's first or last sample had no server reading (no sent count): server µs are per received chunk. */
    serverChunksMissing?: boolean;
    loadgenUsPerChunk?: number;
    totalUsPerChunk?: number;
    hostRamp?: CpuUse;
    hostHold?: CpuUse;
    hostSends?: CpuUse;
    hostBroadcast?: CpuUse;
    /** CPU seconds per second (1 = one core) of each side during the sends phase, from the probes. */
    sendsServerCores?: number;
    sendsLoadgenCores?: number;
  };
  errors: Record<ErrorCause, number>;
  fanout?: { expected: number; received: number; serverDelivered?: number; complete: boolean; fanOutMs?: number } & Percentiles;
  sends?: {
    askedRate: number;
    /** autocannon's connections (absent in results from before the orchestrator reported it: 16 then). */
    connections?: number;
    /** Sends answered 404 (no stream held the id); absent in older results. */
    notFound?: number;
    sustainedRate: number;
    seconds: number;
    requests: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    messagesReceived: number;
    requestP50Ms: number;
    requestP99Ms: number;
  } & Percentiles;
  reportDir: string;
}

export interface FiguresInput {
  summary: Summary;
  reportDir: string;
  plan: Plan;
  capture: Pick<FloodCapture, 'samples' | 'phases'>;
  capacity: { asked: number; run: number; maxN: number; limitedBy: string; fits: boolean; planRefusal?: string };
  timedOut: boolean;
  options: { intervalSeconds: number };
}

/** Merges per-load-generator latency summaries (see Percentiles for what each figure bounds). */
export function mergeLatency(byLoadgen: Record<string, LatencySummary> | undefined): Percentiles {
  const list = Object.values(byLoadgen ?? {}).filter((l) => l.count > 0);
  const count = list.reduce((a, l) => a + l.count, 0);
  if (count === 0) return { count: 0 };
  return {
    p50Ms: list.reduce((a, l) => a + l.p50 * l.count, 0) / count,
    p99Ms: Math.max(...list.map((l) => l.p99)),
    maxMs: Math.max(...list.map((l) => l.max)),
    count,
  };
}

const cpuOf = (s: RunSample, role: 'server' | 'loadgen'): number | undefined => {
  const list = s.components.filter((c) => c.role === role);
  if (list.length === 0 || list.some((c) => c.cpuSeconds === undefined)) return undefined;
  return list.reduce((a, c) => a + c.cpuSeconds!, 0);
};

/** Kernel and user bytes of one side from a phase mark's cgroup readings. */
function cgroupSplit(mark: PhaseMark | undefined, names: string[]): Pick<SideMemory, 'kernelBytes' | 'userBytes' | 'tcpBufferBytes'> {
  if (!mark || names.some((n) => !mark.cgroups[n])) return {};
  let kernel = 0, total = 0, tcp = 0;
  for (const n of names) {
    const m = mark.cgroups[n]!;
    kernel += m.kmem + m.tcp;
    tcp += m.tcp;
    total += m.total;
  }
  return { kernelBytes: kernel, userBytes: total - kernel, tcpBufferBytes: tcp };
}

function growth(from: PhaseMark | undefined, to: PhaseMark | undefined, names: string[], connections: number): SideMemory['growthPerConnection'] {
  if (!from || !to || !connections || names.some((n) => !from.cgroups[n] || !to.cgroups[n])) return undefined;
  let kernel = 0, total = 0;
  for (const n of names) {
    const a = from.cgroups[n]!, b = to.cgroups[n]!;
    kernel += b.kmem + b.tcp - a.kmem - a.tcp;
    total += b.total - a.total;
  }
  return { total: total / connections, kernel: kernel / connections, user: (total - kernel) / connections };
}

/** The phase mark after the one named (the phase's end). */
function endOf(phases: PhaseMark[], name: string): PhaseMark | undefined {
  const i = phases.findIndex((p) => p.name === name);
  return i >= 0 ? phases[i + 1] : undefined;
}

/**
 * CPU per chunk from the hold's CPU seconds and chunk counts. The server's sent count is the sum over the workers
 * that answered the sample; starved workers that miss the last one make it fall (seen: -417,944 over a hold at
 * 1,000,000), so below half the received count it is not used and the server's CPU is divided by the chunks the
 * load generators received (each sent chunk is received once) instead. When the hold's first or last sample has no
 * server reading there is no sent count at all (2026-11-30T2040Z): the server's CPU seconds, known and counted in the
 * end-to-end figure, are divided by the received count too, so the server's share is shown, not 'n/a'. Applied again
 * to older results on load.
 */
export function cpuPerChunk(c: FloodFigures['cpu']): Pick<FloodFigures['cpu'], 'serverUsPerChunk' | 'loadgenUsPerChunk' | 'totalUsPerChunk' | 'serverChunksUnusable' | 'serverChunksMissing'> {
  const us = (sec: number | undefined, chunks: number | undefined) => (sec === undefined || !chunks ? undefined : (sec * 1e6) / chunks);
  const received = c.clientChunks !== undefined && c.clientChunks > 0;
  const unusable = c.serverChunks !== undefined && received && c.serverChunks < c.clientChunks! / 2;
  const missing = c.serverChunks === undefined && received;
  return {
    serverUsPerChunk: us(c.serverSeconds, unusable || missing ? c.clientChunks : c.serverChunks),
    loadgenUsPerChunk: us(c.loadgenSeconds, c.clientChunks),
    totalUsPerChunk: c.serverSeconds !== undefined && c.loadgenSeconds !== undefined ? us(c.serverSeconds + c.loadgenSeconds, c.clientChunks) : undefined,
    ...(unusable ? { serverChunksUnusable: true } : {}),
    ...(missing ? { serverChunksMissing: true } : {}),
  };
}

const div = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? undefined : a / b);

export function floodFigures(input: FiguresInput): FloodFigures {
  const { summary: s, plan, capture } = input;
  const hold = capture.samples.filter((x) => x.phase === 'hold');
  const first = hold[0], last = hold.at(-1);
  const cpu: FloodFigures['cpu'] = {};
  if (first && last && last !== first) {
    cpu.holdSeconds = last.t - first.t;
    const sv0 = cpuOf(first, 'server'), sv1 = cpuOf(last, 'server'), lg0 = cpuOf(first, 'loadgen'), lg1 = cpuOf(last, 'loadgen');
    if (sv0 !== undefined && sv1 !== undefined) cpu.serverSeconds = sv1 - sv0;
    if (lg0 !== undefined && lg1 !== undefined) cpu.loadgenSeconds = lg1 - lg0;
    if (first.server && last.server) cpu.serverChunks = last.server.chunksSent - first.server.chunksSent;
    if (first.client && last.client) cpu.clientChunks = last.client.chunks - first.client.chunks;
    Object.assign(cpu, cpuPerChunk(cpu));
  }
  const mark = (name: string) => capture.phases.find((p) => p.name === name);
  const afterHold = capture.phases[capture.phases.findIndex((p) => p.name === 'hold') + 1];
  const ncpu = availableParallelism();
  const rampMark = mark('ramp'), holdMark = mark('hold');
  if (rampMark && holdMark) cpu.hostRamp = cpuUse(rampMark.cpu, holdMark.cpu, ncpu);
  if (holdMark && afterHold && afterHold !== holdMark) cpu.hostHold = cpuUse(holdMark.cpu, afterHold.cpu, ncpu);
  for (const [name, key] of [['sends', 'hostSends'], ['broadcast', 'hostBroadcast']] as const) {
    const a = mark(name), b = endOf(capture.phases, name);
    if (a && b) cpu[key] = cpuUse(a.cpu, b.cpu, ncpu);
  }
  const sends = capture.samples.filter((x) => x.phase === 'sends');
  if (sends.length >= 2) {
    const a = sends[0]!, b = sends.at(-1)!, dt = b.t - a.t;
    const rate = (role: 'server' | 'loadgen') => {
      const x = cpuOf(a, role), y = cpuOf(b, role);
      return x === undefined || y === undefined || dt <= 0 ? undefined : (y - x) / dt;
    };
    cpu.sendsServerCores = rate('server');
    cpu.sendsLoadgenCores = rate('loadgen');
  }

  const loadgenNames = plan.loadgens.map((l) => l.name);
  const chunks = s.chunks;
  const ratio = chunks.expected ? (chunks.received ?? 0) / chunks.expected : undefined;
  const out: FloodFigures = {
    nAsked: input.capacity.asked,
    transport: plan.transport,
    n: plan.n,
    capacity: { maxN: input.capacity.maxN, limitedBy: input.capacity.limitedBy, fits: input.capacity.fits, ...(input.capacity.planRefusal ? { planRefusal: input.capacity.planRefusal } : {}) },
    // The orchestrator calls a run complete when every phase ran, even if the ramp stopped short of N; here a
    // flood is complete only when N was held.
    complete: s.complete && !input.timedOut && s.reached.client >= plan.n,
    ...(s.incomplete ? { incomplete: s.incomplete } : s.reached.client < plan.n ? { incomplete: `N not reached: ${s.reached.client} of ${plan.n} held (ramp ended by ${s.rampEndedBy ?? 'n/a'})` } : {}),
    timedOut: input.timedOut,
    reached: s.reached,
    secondsToTarget: s.secondsToTarget,
    rampSeconds: s.rampSeconds,
    rampRate: s.rampRate,
    askedRate: s.askedRate,
    rampEndedBy: s.rampEndedBy,
    server: {
      engine: plan.server.engine || 'default',
      workers: plan.server.workers,
      processes: plan.server.workers + 1,
      slopeBytes: s.memory.server.fit?.slope,
      slopeR2: s.memory.server.fit?.r2,
      totalPerConnectionBytes: s.memory.server.holdPerConnectionBytes,
      holdBytes: s.memory.server.holdBytes,
      growthPerConnection: growth(rampMark, holdMark, ['server'], s.reached.server),
      ...cgroupSplit(afterHold, ['server']),
    },
    loadgen: {
      processes: plan.loadgens.reduce((a, l) => a + l.procs, 0),
      slopeBytes: s.memory.loadgen.fit?.slope,
      slopeR2: s.memory.loadgen.fit?.r2,
      totalPerConnectionBytes: s.memory.loadgen.holdPerConnectionBytes,
      holdBytes: s.memory.loadgen.holdBytes,
      growthPerConnection: growth(rampMark, holdMark, loadgenNames, s.reached.client),
      ...cgroupSplit(afterHold, loadgenNames),
    },
    memoryMethod: { server: s.memory.server.method, loadgen: s.memory.loadgen.method },
    kernel: {
      tcpBytesAtHold: s.kernel.tcpBytesAtHold,
      perConnectionBytes: s.kernel.perConnectionBytes,
      socketsInUse: last?.tcpInuse,
      method: s.kernel.method,
    },
    chunks: {
      intervalSeconds: input.options.intervalSeconds,
      holdSeconds: chunks.holdSeconds,
      expected: chunks.expected,
      received: chunks.received,
      ratio,
      expectedPerSecond: div(chunks.expected, chunks.holdSeconds),
      receivedPerSecond: div(chunks.received, chunks.holdSeconds),
    },
    cpu,
    errors: s.errors,
    reportDir: input.reportDir,
  };
  if (s.broadcast) {
    const b = s.broadcast;
    out.fanout = { expected: b.expected, received: b.received, serverDelivered: b.serverDelivered, complete: b.complete, fanOutMs: b.fanOutMs, ...mergeLatency(b.deliveryMs) };
  }
  if (s.sends) {
    const x = s.sends;
    out.sends = {
      askedRate: x.askedRate,
      ...(x.connections !== undefined ? { connections: x.connections } : {}),
      ...(x.notFound !== undefined ? { notFound: x.notFound } : {}),
      sustainedRate: x.sustainedRate,
      seconds: x.seconds,
      requests: x.requests,
      non2xx: x.non2xx,
      errors: x.errors,
      timeouts: x.timeouts,
      messagesReceived: x.messagesReceived,
      requestP50Ms: x.requestLatencyMs.p50,
      requestP99Ms: x.requestLatencyMs.p99,
      ...mergeLatency(x.deliveryMs),
    };
  }
  return out;
}
