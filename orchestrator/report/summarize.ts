/**
 * The report's figures, computed from samples.csv and run.json only. Memory per connection is given several ways:
 * the slope of a least-squares line through (connections, memory) over the ramp, which leaves the process's fixed
 * base out; the growth over that base at the hold per connection; and total/N averaged over the hold. The headline
 * (`perConnection`) is the slope when its fit is reliable (R² >= MIN_R2), else the growth over the base, else
 * total/N, and says which and why. The summary says which probe measured each figure. Figures that would mean
 * nothing (a negative growth, socket buffers a probe cannot see) are left out rather than shown as 0 or below.
 */
import { ERROR_CAUSES, type ErrorCause, type LatencySummary } from '../../shared/contracts.ts';
import type { BroadcastOutcome, RampPace, SendsOutcome } from '../run/outcome.ts';
import type { RunRecord } from './run-record.ts';
import { linearFit, type LinearFit } from './fit.ts';
import type { SamplesTable } from './samples-table.ts';
import { componentMemory, nodeMemory, type ComponentMemory, type NodeMemory } from './per-node.ts';
import { targetSummary, type TargetSummary } from './target-summary.ts';

/**
 * A fit explains less than this share of the variance: its slope is not shown as the headline. 0.9 is where the
 * bench already drew the line; a 2,000-connection ramp here gives 0.99 and more, a host-noise-dominated one 0.0058.
 */
export const MIN_R2 = 0.9;

/** The one memory-per-connection figure to read first, how it was computed, and why that way. */
export interface PerConnectionHeadline {
  bytes: number;
  method: 'ramp-slope' | 'growth-over-base' | 'total-over-n';
  /** One sentence: what the figure is, and why a fallback was used. */
  how: string;
}

export interface MemoryFigures {
  /** Components summed into this figure. */
  components: string[];
  method: string;
  /** What x is: the server's own count for the server, the load generators' count for them. */
  countedBy: 'server' | 'client';
  baselineBytes?: number;
  fit?: LinearFit; // over the ramp, bytes per connection
  /** Phases the fit's samples come from: the ramp, or ramp and hold when the ramp was too short for 3 samples. */
  fitPhases?: string;
  holdBytes?: number; // mean working set over the hold
  holdConnections?: number;
  holdPerConnectionBytes?: number; // holdBytes / holdConnections
  holdAboveBaselinePerConnectionBytes?: number; // (holdBytes - baseline) / holdConnections
  kernelSocketBytes?: number; // charged to the group at the hold, where the probe separates it
  /** Kernel memory (slab...) charged to the group: mean over the hold, and per connection above the first sample. */
  kernelBytesAtHold?: number;
  kernelPerConnectionBytes?: number;
  /** The figure to read first (see PerConnectionHeadline); absent when nothing was measured. */
  perConnection?: PerConnectionHeadline;
}

export interface Summary extends TargetSummary {
  n: number;
  backend: string;
  complete: boolean;
  incomplete?: string;
  /** The run reached its end, but these happened on the way (a server worker died, the run stalled): DEGRADED. */
  degraded?: string[];
  reached: { client: number; server: number };
  /** N was held on the client side at some sample; a run can be complete (nothing died) and still miss N. */
  targetReached: boolean;
  secondsToTarget?: number;
  rampSeconds?: number;
  rampEndedBy?: string;
  /** Connections per second achieved: reached / time to reach it. */
  rampRate?: number;
  askedRate: number;
  /** The load generators' closed-loop pace over the ramp (run.json's outcome.ramp.pace has the per-second timeline). */
  rampPace?: Omit<RampPace, 'timeline'>;
  memory: { server: MemoryFigures; loadgen: MemoryFigures };
  /** Each component's mean working set over the hold, its node and its cross-check reading where there is one. */
  components?: ComponentMemory[];
  /** The same summed per node, where components ran on several hosts (swarm). */
  nodes?: NodeMemory[];
  /** What the backend saw happen (swarm: a node going down, a task rescheduled). */
  backendEvents?: Array<{ atMs: number; what: string }>;
  kernel: {
    tcpBytesAtHold?: number; tcpBytesBaseline?: number; perConnectionBytes?: number; method: string;
    slabBytesAtHold?: number; slabBytesBaseline?: number; slabPerConnectionBytes?: number;
  };
  /** Failed connections by cause (load generators' final counts), and their `total`. */
  errors: Record<ErrorCause, number> & { total: number };
  /** `expected` and `deliveredPct` only for a server with a heartbeat (a chunk per stream per interval). */
  chunks: { holdSeconds?: number; expected?: number; received?: number; deliveredPct?: number; serverSentTotal?: number; clientReceivedTotal?: number };
  delivery: { sends?: Record<string, LatencySummary>; broadcast?: Record<string, LatencySummary>; broadcastFanOutMs?: number };
  sends?: SendsOutcome;
  broadcast?: BroadcastOutcome;
  cpuSeconds: Record<string, number>;
  startedAt: string;
  durationSeconds: number;
}

const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : undefined);

function memoryFigures(table: SamplesTable, record: RunRecord, role: 'server' | 'loadgen'): MemoryFigures {
  const components = table.components.filter((c) => (role === 'server' ? c === 'server' : c !== 'server'));
  const countedBy = role === 'server' ? 'server' : 'client';
  const xCol = countedBy === 'server' ? 'server_connections' : 'client_active';
  const methods = new Set((record.outcome?.components ?? []).filter((c) => components.includes(c.name)).map((c) => c.method ?? 'unknown'));
  const bytes = (row: SamplesTable['rows'][number]): number | undefined => {
    let sum = 0;
    for (const c of components) {
      const v = row.values.get(`${c}_ws_bytes`);
      if (v === undefined) return undefined;
      sum += v;
    }
    return sum;
  };
  const points = (phases: string[]) => {
    const xs: number[] = [], ys: number[] = [];
    for (const row of table.rows) {
      if (!phases.includes(row.phase)) continue;
      const x = row.values.get(xCol), y = bytes(row);
      if (x !== undefined && y !== undefined) {
        xs.push(x);
        ys.push(y);
      }
    }
    return { xs, ys };
  };
  const ramp = points(['up', 'ramp']);
  const hold = points(['hold']);
  const out: MemoryFigures = { components, method: [...methods].join(', '), countedBy, fit: linearFit(ramp.xs, ramp.ys), fitPhases: 'ramp' };
  if (!out.fit) {
    const both = points(['up', 'ramp', 'hold']);
    out.fit = linearFit(both.xs, both.ys);
    out.fitPhases = 'ramp and hold (the ramp alone gave fewer than 3 samples)';
  }
  out.baselineBytes = ramp.ys[0];
  out.holdBytes = mean(hold.ys);
  out.holdConnections = mean(hold.xs);
  if (out.holdBytes !== undefined && out.holdConnections) {
    out.holdPerConnectionBytes = out.holdBytes / out.holdConnections;
    if (out.baselineBytes !== undefined) out.holdAboveBaselinePerConnectionBytes = (out.holdBytes - out.baselineBytes) / out.holdConnections;
  }
  const kmem = (row: SamplesTable['rows'][number]) => {
    const v = components.map((c) => row.values.get(`${c}_kmem_bytes`));
    return v.every((x) => x !== undefined) && v.length ? v.reduce((a, b) => a! + b!, 0)! : undefined;
  };
  const kmemBase = table.rows.filter((r) => r.phase === 'up' || r.phase === 'ramp').map(kmem).find((v) => v !== undefined);
  out.kernelBytesAtHold = mean(table.rows.filter((r) => r.phase === 'hold').map(kmem).filter((v): v is number => v !== undefined));
  if (out.kernelBytesAtHold !== undefined && kmemBase !== undefined && out.holdConnections) {
    out.kernelPerConnectionBytes = (out.kernelBytesAtHold - kmemBase) / out.holdConnections;
  }
  if (out.kernelPerConnectionBytes !== undefined && out.kernelPerConnectionBytes < 0) out.kernelPerConnectionBytes = undefined;
  if (out.holdAboveBaselinePerConnectionBytes !== undefined && out.holdAboveBaselinePerConnectionBytes < 0) out.holdAboveBaselinePerConnectionBytes = undefined;
  // Socket buffers charged to the group: only where the probe sees them. cgroup v1's memory.kmem.tcp.usage_in_bytes
  // reads 0 on this kernel whatever the sockets hold (README), so a column that never left 0 is not a measurement.
  const everCharged = table.rows.some((r) => components.some((c) => (r.values.get(`${c}_sock_bytes`) ?? 0) > 0));
  const lastHold = table.rows.filter((r) => r.phase === 'hold').at(-1);
  if (lastHold && everCharged) {
    const socks = components.map((c) => lastHold.values.get(`${c}_sock_bytes`));
    if (socks.every((v) => v !== undefined)) out.kernelSocketBytes = socks.reduce((a, b) => a! + b!, 0);
  }
  out.perConnection = headline(out);
  return out;
}

const kib = (b: number) => `${(b / 1024).toFixed(2)} KiB`;

/** The slope when its fit is reliable, else the growth over the base at the hold, else total/N at the hold. */
export function headline(m: MemoryFigures): PerConnectionHeadline | undefined {
  const fit = m.fit;
  if (fit && fit.r2 >= MIN_R2 && fit.slope > 0) {
    return { bytes: fit.slope, method: 'ramp-slope', how: `least-squares slope over ${fit.points} samples of the ${m.fitPhases ?? 'ramp'}, R² ${fit.r2.toFixed(3)}` };
  }
  const why = !fit
    ? 'no fit (fewer than 3 samples with memory and connections)'
    : fit.slope <= 0
      ? `the ramp's fit has a slope of ${kib(fit.slope)} (R² ${fit.r2.toFixed(4)}): memory did not follow the connections`
      : `the ramp's fit is unreliable (R² ${fit.r2.toFixed(4)} < ${MIN_R2}; its slope ${kib(fit.slope)} is not shown as the figure)`;
  if (m.holdAboveBaselinePerConnectionBytes !== undefined && m.holdAboveBaselinePerConnectionBytes > 0) {
    return { bytes: m.holdAboveBaselinePerConnectionBytes, method: 'growth-over-base', how: `growth over the first sample at the hold / connections held, because ${why}` };
  }
  if (m.holdPerConnectionBytes !== undefined) {
    return { bytes: m.holdPerConnectionBytes, method: 'total-over-n', how: `total at the hold / connections held (base included), because ${why} and no growth over the base was measured` };
  }
  return undefined;
}

function perComponent(table: SamplesTable, record: RunRecord): Pick<Summary, 'components' | 'nodes' | 'backendEvents'> {
  const components = componentMemory(table, record);
  const nodes = nodeMemory(components);
  const events = record.outcome?.backendEvents;
  return { components, ...(nodes ? { nodes } : {}), ...(events?.length ? { backendEvents: events } : {}) };
}

export function summarize(table: SamplesTable, record: RunRecord): Summary {
  const base = summarizeRun(table, record);
  return { ...base, ...targetSummary(base, table, record) };
}

function summarizeRun(table: SamplesTable, record: RunRecord): Omit<Summary, keyof TargetSummary> {
  const o = record.outcome;
  const col = (name: string, phases?: string[]) =>
    table.rows.filter((r) => !phases || phases.includes(r.phase)).map((r) => r.values.get(name)).filter((v): v is number => v !== undefined);
  const max = (a: number[]) => (a.length ? Math.max(...a) : 0);
  const errors = Object.fromEntries(ERROR_CAUSES.map((c) => [c, 0])) as Summary['errors'];
  for (const s of Object.values(o?.final.loadgens ?? {})) for (const c of ERROR_CAUSES) errors[c] += s.errors?.[c] ?? 0;
  errors.total = ERROR_CAUSES.reduce((a, c) => a + errors[c], 0);

  const holdRows = table.rows.filter((r) => r.phase === 'hold');
  const chunks: Summary['chunks'] = {
    serverSentTotal: o?.final.server?.chunksSent,
    clientReceivedTotal: Object.values(o?.final.loadgens ?? {}).reduce((a, s) => a + s.chunks, 0) || undefined,
  };
  if (holdRows.length >= 2 && record.plan.transport !== 'poll') {
    const first = holdRows[0]!, last = holdRows.at(-1)!;
    const seconds = last.values.get('t_s')! - first.values.get('t_s')!;
    const active = mean(holdRows.map((r) => r.values.get('client_active') ?? 0)) ?? 0;
    chunks.holdSeconds = seconds;
    chunks.received = (last.values.get('client_chunks') ?? 0) - (first.values.get('client_chunks') ?? 0);
    if (record.target?.supports.heartbeat ?? true) {
      chunks.expected = Math.round((active * seconds * 1000) / record.plan.server.heartbeatIntervalMs);
      if (chunks.expected > 0) chunks.deliveredPct = (100 * chunks.received) / chunks.expected;
    }
  }

  const slabHold = mean(col('kernel_slab_bytes', ['hold']));
  const slabBase = col('kernel_slab_bytes', ['up', 'ramp'])[0];
  const kernelHold = mean(col('kernel_tcp_bytes', ['hold']));
  const kernelBase = col('kernel_tcp_bytes', ['up', 'ramp'])[0];
  const holdClients = mean(col('client_active', ['hold']));
  const rampRate = o?.ramp?.secondsToTarget ? o.ramp.reached / o.ramp.secondsToTarget : o?.ramp && o.ramp.seconds > 0 ? o.ramp.reached / o.ramp.seconds : undefined;
  const cpuSeconds: Record<string, number> = {};
  for (const c of table.components) {
    const v = col(`${c}_cpu_s`);
    if (v.length) cpuSeconds[c] = v.at(-1)!;
  }
  const reached = { client: max([o?.ramp?.reached ?? 0, ...col('client_active')]), server: max(col('server_connections')) };
  return {
    n: record.plan.n,
    backend: record.plan.backend,
    complete: !o?.incomplete && o !== undefined,
    ...(o?.incomplete ? { incomplete: o.incomplete } : o ? {} : { incomplete: 'the run left no outcome (killed?)' }),
    ...(o?.degraded?.length ? { degraded: o.degraded } : {}),
    reached,
    targetReached: reached.client >= record.plan.n,
    secondsToTarget: o?.ramp?.secondsToTarget,
    rampSeconds: o?.ramp?.seconds,
    rampEndedBy: o?.ramp?.endedBy,
    rampRate,
    askedRate: record.plan.rampRate,
    ...(o?.ramp?.pace ? { rampPace: (({ timeline: _, ...rest }) => rest)(o.ramp.pace) } : {}),
    memory: { server: memoryFigures(table, record, 'server'), loadgen: memoryFigures(table, record, 'loadgen') },
    ...perComponent(table, record),
    kernel: {
      tcpBytesAtHold: kernelHold,
      tcpBytesBaseline: kernelBase,
      // Socket buffers queue data between heartbeats only: their growth per connection is noise around 0 (it read
      // -97.87 bytes once); given only where it is not below 0.
      perConnectionBytes: kernelHold !== undefined && kernelBase !== undefined && holdClients && kernelHold >= kernelBase ? (kernelHold - kernelBase) / holdClients : undefined,
      method: '/proc/net/sockstat TCP mem pages x 4096, host-wide (both ends of every loopback connection)',
      slabBytesAtHold: slabHold,
      slabBytesBaseline: slabBase,
      slabPerConnectionBytes: slabHold !== undefined && slabBase !== undefined && holdClients && slabHold >= slabBase ? (slabHold - slabBase) / holdClients : undefined,
    },
    errors,
    chunks,
    delivery: { sends: o?.sends?.deliveryMs, broadcast: o?.broadcast?.deliveryMs, broadcastFanOutMs: o?.broadcast?.fanOutMs },
    sends: o?.sends,
    broadcast: o?.broadcast,
    cpuSeconds,
    startedAt: new Date(o?.startedAtMs ?? table.rows[0]?.values.get('at_ms') ?? 0).toISOString(),
    durationSeconds: o ? (o.endedAtMs - o.startedAtMs) / 1000 : (table.rows.at(-1)?.values.get('t_s') ?? 0),
  };
}
