/**
 * One row per run of a comparison, computed from each run's own folder (samples.csv and run.json, through the same
 * computeReport() as its report, thresholds included), so a comparison can be rebuilt from the folders like any report. Ratios are to the
 * best row of each figure: for a cost (memory, CPU, fan-out time) value / lowest; for a rate (connect rate, chunks
 * delivered) highest / value; 1.00 is the best row either way, 2.00 twice the cost or half the rate.
 */
import { basename } from 'node:path';
import { ERROR_CAUSES } from '../../shared/contracts.ts';
import { readRunRecord } from '../report/run-record.ts';
import { readSamplesTable, type SamplesTable } from '../report/samples-table.ts';
import type { PerConnectionHeadline, Summary } from '../report/summarize.ts';
import { computeReport } from '../report/write-report.ts';

export interface CompareRow {
  /** The target's name, or the folder's for `report --compare`. */
  label: string;
  dir: string;
  target: string;
  n: number;
  complete: boolean;
  incomplete?: string;
  reachedServer: number;
  reachedClient: number;
  serverCountedBy: string;
  memoryMeasured: boolean;
  memoryMethod?: string;
  memoryNote?: string;
  /**
   * KiB per connection as the run's report headlines it (summarize's headline()): the ramp slope when its fit is
   * reliable, else the growth over the base at the hold, else total/N; `kibMethod` says which. Rows are ranked on it
   * only against rows measured the same way. Then total/N at the hold, and the growth above base split.
   */
  kibPerConnection?: number;
  kibMethod?: PerConnectionHeadline['method'];
  /** R² of the ramp's fit (the slope's, whether or not it is the headline). */
  fitR2?: number;
  kibTotalPerConnection?: number;
  userKibPerConnection?: number;
  kernelKibPerConnection?: number;
  cpuMicrosPerConnectionSecond?: number;
  cpuMicrosPerChunk?: number;
  /** A CPU figure of 0 means less than this (one 10 ms tick per held connection per second). */
  cpuResolutionMicros?: number;
  connectRate?: number;
  chunksDeliveredPct?: number;
  errors: Record<string, number>;
  errorsTotal: number;
  fanOutMs?: number;
  skipped: string[];
  thresholdsFailed?: number;
}

/** Figures compared across rows: which way is better, and how the report names them. */
export const RATIO_FIGURES = [
  { key: 'kibPerConnection', better: 'lower', name: 'memory per connection (among rows measured the same way)', sameWay: 'kibMethod' },
  { key: 'kibTotalPerConnection', better: 'lower', name: 'memory total/N' },
  { key: 'cpuMicrosPerConnectionSecond', better: 'lower', name: 'CPU per held connection' },
  { key: 'cpuMicrosPerChunk', better: 'lower', name: 'CPU per chunk' },
  { key: 'connectRate', better: 'higher', name: 'connect rate' },
  { key: 'chunksDeliveredPct', better: 'higher', name: 'chunks delivered' },
  { key: 'fanOutMs', better: 'lower', name: 'fan-out' },
] as const satisfies ReadonlyArray<{ key: keyof CompareRow; better: 'lower' | 'higher'; name: string; sameWay?: keyof CompareRow }>;

export type RatioKey = (typeof RATIO_FIGURES)[number]['key'];

export interface LoadedRun {
  dir: string;
  summary: Summary;
  table: SamplesTable;
}

export function loadRun(dir: string): LoadedRun {
  const record = readRunRecord(dir);
  const table = readSamplesTable(dir);
  return { dir, summary: computeReport(table, record).summary, table };
}

export function compareRow(run: LoadedRun, label?: string): CompareRow {
  const s = run.summary;
  const errors = Object.fromEntries(ERROR_CAUSES.map((c) => [c, s.errors[c]]).filter(([, v]) => (v as number) > 0));
  return {
    label: label ?? s.target.label,
    dir: run.dir,
    target: s.target.name,
    n: s.n,
    complete: s.complete,
    ...(s.incomplete ? { incomplete: s.incomplete } : {}),
    reachedServer: s.reached.server,
    reachedClient: s.reached.client,
    serverCountedBy: s.server.connectionsCountedBy,
    memoryMeasured: s.server.memoryMeasured,
    memoryMethod: s.server.memoryMethod,
    memoryNote: s.target.memoryNote,
    ...(s.server.memoryMeasured && s.memory.server.perConnection
      ? { kibPerConnection: s.memory.server.perConnection.bytes / 1024, kibMethod: s.memory.server.perConnection.method }
      : {}),
    fitR2: s.memory.server.fit?.r2,
    kibTotalPerConnection: s.server.kibTotalPerConnection,
    userKibPerConnection: s.server.userKibPerConnection,
    kernelKibPerConnection: s.server.kernelKibPerConnection,
    cpuMicrosPerConnectionSecond: s.server.cpuMicrosPerConnectionSecond,
    cpuMicrosPerChunk: s.server.cpuMicrosPerChunk,
    cpuResolutionMicros: s.server.cpuResolutionMicros,
    connectRate: s.rampRate,
    chunksDeliveredPct: s.chunks.deliveredPct,
    errors,
    errorsTotal: s.errors.total,
    fanOutMs: s.broadcast?.fanOutMs,
    skipped: s.target.skipped.map((k) => `${k.phase}: ${k.reason}`),
    ...(s.thresholds ? { thresholdsFailed: s.thresholds.filter((t) => !t.pass).length } : {}),
  };
}

/** Row labels: the targets' short names, or the folders' names where two rows would share one. */
export function rowLabels(runs: LoadedRun[]): string[] {
  const labels = runs.map((r) => r.summary.target.label);
  return labels.map((l, i) => (labels.indexOf(l) !== labels.lastIndexOf(l) ? basename(runs[i]!.dir) : l));
}

/**
 * Each row's ratio to the best row, per figure (absent where the row or every row lacks the figure); a figure with
 * `sameWay` is compared only among rows whose `sameWay` field is the row's (a slope is not ranked against a total/N).
 */
export function ratiosToBest(rows: CompareRow[]): Array<Partial<Record<RatioKey, number>>> {
  return rows.map((row) => {
    const out: Partial<Record<RatioKey, number>> = {};
    for (const f of RATIO_FIGURES) {
      const peers = 'sameWay' in f ? rows.filter((r) => r[f.sameWay] === row[f.sameWay]) : rows;
      const values = peers.map((r) => r[f.key]).filter((v): v is number => typeof v === 'number' && v > 0);
      const v = row[f.key];
      if (typeof v !== 'number' || v <= 0 || values.length === 0) continue;
      out[f.key] = f.better === 'lower' ? v / Math.min(...values) : Math.max(...values) / v;
    }
    return out;
  });
}
