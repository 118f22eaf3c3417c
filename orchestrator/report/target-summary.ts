/**
 * The summary's fields about the server under test, added to what summarize() computes from the same two files:
 * which target ran and what it supports, the phases it skipped, how its connections were counted (the kernel, with
 * comet-lab's /stats as a cross-check), per-connection memory and CPU in the units people set thresholds in, and
 * the thresholds' verdicts. Field names are what `--threshold` takes (`server.kibPerConnection`,
 * `chunks.deliveredPct`, `errors.total`).
 */
import { TRANSPORT_NAMES } from '../../shared/contracts.ts';
import type { TargetRecord } from '../targets/target.ts';
import { parseThreshold, type Threshold, type ThresholdResult } from '../thresholds/threshold.ts';
import type { RunRecord } from './run-record.ts';
import type { SamplesTable } from './samples-table.ts';
import type { MemoryFigures, Summary } from './summarize.ts';

export interface ServerFigures {
  /** Most established connections on the server's port at once, as the kernel counted them. */
  connections: number;
  /** How: `kernel: sock_diag (ss)`, `kernel: /proc/net/tcp`, or `the server's /stats` (runs before targets). */
  connectionsCountedBy: string;
  /** comet-lab's own /stats count at the same samples (its most), the cross-check; absent for other servers. */
  reportedConnections?: number;
  /** false: nothing measured the server's memory (url: without --server-pid or --server-container). */
  memoryMeasured: boolean;
  memoryMethod?: string;
  /** Fit slope over the ramp, KiB per connection. */
  kibPerConnection?: number;
  /** Total/N averaged over the hold (base included), KiB. */
  kibTotalPerConnection?: number;
  /** Growth above the first sample at the hold, per connection, split: kernel (kmem) and user space (the rest). */
  kibAboveBasePerConnection?: number;
  kernelKibPerConnection?: number;
  userKibPerConnection?: number;
  /** CPU (user + system) over the hold: µs per held connection per second, and µs per chunk received. */
  cpuMicrosPerConnectionSecond?: number;
  cpuMicrosPerChunk?: number;
  /** One clock tick (10 ms, /proc's CPU unit) per held connection per second: a CPU figure below it reads 0. */
  cpuResolutionMicros?: number;
}

export interface LoadgenFigures {
  kibPerConnection?: number;
  kibTotalPerConnection?: number;
}

export interface TargetSummary {
  target: TargetRecord & { skipped: Array<{ phase: string; reason: string }>; memoryNote?: string };
  server: ServerFigures;
  loadgen: LoadgenFigures;
  thresholds?: ThresholdResult[];
}

/** What summarize() computes before these fields. */
type RunSummary = Omit<Summary, keyof TargetSummary>;

const KIB = 1024;
const kib = (b: number | undefined) => (b === undefined ? undefined : b / KIB);

/** comet-lab's own server, as runs recorded before targets existed describe it. */
export const COMET_LAB_RECORD: TargetRecord = {
  name: 'comet-lab',
  kind: 'comet-lab',
  label: 'comet-lab',
  description: "comet-lab's own server (server/cli.ts), as the plan sizes it",
  supports: { transports: [...TRANSPORT_NAMES], sends: true, broadcast: true, heartbeat: true },
};

function holdCpu(table: SamplesTable, component: string): { cpu: number; seconds: number; held: number; chunks: number } | undefined {
  const hold = table.rows.filter((r) => r.phase === 'hold');
  const first = hold[0], last = hold.at(-1);
  if (!first || !last || first === last) return undefined;
  const c0 = first.values.get(`${component}_cpu_s`), c1 = last.values.get(`${component}_cpu_s`);
  if (c0 === undefined || c1 === undefined) return undefined;
  const held = hold.map((r) => r.values.get('server_connections')).filter((v): v is number => v !== undefined);
  return {
    cpu: c1 - c0,
    seconds: last.values.get('t_s')! - first.values.get('t_s')!,
    held: held.length ? held.reduce((a, b) => a + b, 0) / held.length : 0,
    chunks: (last.values.get('client_chunks') ?? 0) - (first.values.get('client_chunks') ?? 0),
  };
}

function serverFigures(m: MemoryFigures, summary: RunSummary, table: SamplesTable, record: RunRecord): ServerFigures {
  const reported = table.rows.map((r) => r.values.get('server_reported_connections')).filter((v): v is number => v !== undefined);
  const method = record.outcome?.serverCount ?? (record.target ? undefined : "the server's /stats");
  const measured = table.rows.some((r) => r.values.get('server_ws_bytes') !== undefined);
  const out: ServerFigures = {
    connections: summary.reached.server,
    connectionsCountedBy: method ?? 'kernel',
    memoryMeasured: measured,
    ...(reported.length ? { reportedConnections: Math.max(...reported) } : {}),
  };
  if (!measured) return out;
  out.memoryMethod = m.method;
  out.kibPerConnection = kib(m.fit?.slope);
  out.kibTotalPerConnection = kib(m.holdPerConnectionBytes);
  out.kibAboveBasePerConnection = kib(m.holdAboveBaselinePerConnectionBytes);
  out.kernelKibPerConnection = kib(m.kernelPerConnectionBytes);
  if (out.kibAboveBasePerConnection !== undefined && out.kernelKibPerConnection !== undefined) {
    out.userKibPerConnection = out.kibAboveBasePerConnection - out.kernelKibPerConnection;
  }
  const cpu = holdCpu(table, 'server');
  if (cpu && cpu.held > 0 && cpu.seconds > 0) {
    out.cpuMicrosPerConnectionSecond = (cpu.cpu * 1e6) / (cpu.held * cpu.seconds);
    out.cpuResolutionMicros = 1e4 / (cpu.held * cpu.seconds);
  }
  // Per chunk only where chunks flow: a server that sends nothing (nginx-idle, nchan between messages) has no such cost.
  if (cpu && cpu.chunks > 0 && (record.target?.supports.heartbeat ?? true)) out.cpuMicrosPerChunk = (cpu.cpu * 1e6) / cpu.chunks;
  return out;
}

/** The thresholds of a run's config (as written), parsed; those that do not parse were refused before it ran. */
export function recordThresholds(record: RunRecord): Threshold[] {
  return (record.config?.thresholds ?? []).map(parseThreshold).filter((t): t is Threshold => typeof t !== 'string');
}

export function targetSummary(summary: RunSummary, table: SamplesTable, record: RunRecord): TargetSummary {
  const target = record.target ?? COMET_LAB_RECORD;
  const out: TargetSummary = {
    target: { ...target, skipped: record.outcome?.skipped ?? [], ...(record.memoryNote ? { memoryNote: record.memoryNote } : {}) },
    server: serverFigures(summary.memory.server, summary, table, record),
    loadgen: { kibPerConnection: kib(summary.memory.loadgen.fit?.slope), kibTotalPerConnection: kib(summary.memory.loadgen.holdPerConnectionBytes) },
  };
  return out;
}
