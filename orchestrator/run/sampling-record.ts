/**
 * The orchestrator's own side of sampling: the nice value it samples at, and how regular and how costly its samples
 * were (run.json's `outcome.sampling`). With ~120 busy lab processes on 2 cores a nice-0 orchestrator waited its turn
 * behind each of them: samples came 100 s apart in a 1,000,000 run (issue 15).
 */
import { getPriority, setPriority } from 'node:os';
import type { SamplingRecord } from './outcome.ts';
import type { RunSample } from './sample.ts';

type Quantiles = { p50: number; p99: number; max: number };

function quantiles(xs: number[]): Quantiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))]! : 0);
  return { p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 };
}

export class SamplingLog {
  private readonly times: number[] = [];
  private readonly costs: Array<NonNullable<RunSample['orchestrator']>> = [];
  private skipped = 0;
  private serverLate = 0;
  private cpuAtStart: NodeJS.CpuUsage | undefined;
  private nice: { value?: number; error?: string; before?: number } = {};

  /** Sampling starts: sets `nice` for this process's main thread (where sampling runs) when given; notes a refusal. */
  start(nice: number | undefined): void {
    this.cpuAtStart = process.cpuUsage();
    if (nice === undefined) return;
    try {
      this.nice.before = getPriority();
      setPriority(nice);
      this.nice.value = getPriority();
    } catch (err) {
      this.nice.error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.nice.value = this.nice.before;
    }
  }

  /** Puts the nice value back (lowering one's own priority always works). */
  stop(): void {
    if (this.nice.before === undefined || this.nice.error !== undefined) return;
    try {
      setPriority(this.nice.before);
    } catch {
      // nothing to undo
    }
  }

  taken(sample: RunSample): void {
    this.times.push(sample.atMs);
    if (sample.orchestrator) this.costs.push(sample.orchestrator);
  }

  /** A sample emitted without the server's figures because the server was still answering an earlier one. */
  late(): void {
    this.serverLate++;
  }

  /** A tick with no sample: too many earlier ones were still waiting for answers. */
  skip(): void {
    this.skipped++;
  }

  record(): SamplingRecord | undefined {
    const n = this.times.length;
    if (n === 0) return undefined;
    const times = [...this.times].sort((a, b) => a - b);
    const periods = times.slice(1).map((t, i) => Math.round(t - times[i]!) / 1000);
    const cpu = this.cpuAtStart ? process.cpuUsage(this.cpuAtStart) : undefined;
    const cpuSeconds = cpu ? (cpu.user + cpu.system) / 1e6 : 0;
    return {
      ...(this.nice.value !== undefined ? { nice: this.nice.value } : {}),
      ...(this.nice.error !== undefined ? { niceError: this.nice.error } : {}),
      samples: n,
      skipped: this.skipped,
      periodSeconds: quantiles(periods),
      sampleMs: quantiles(this.costs.map((c) => c.sampleMs)),
      serverMs: quantiles(this.costs.map((c) => c.serverMs)),
      loadgenMs: quantiles(this.costs.map((c) => c.loadgenMs)),
      probesMs: quantiles(this.costs.map((c) => c.probesMs)),
      samplesMissingAnswers: this.costs.filter((c) => c.missing > 0).length,
      serverPartial: this.costs.filter((c) => c.serverPartial).length,
      serverLate: this.serverLate,
      cpuSecondsPerSample: Math.round((cpuSeconds / n) * 10000) / 10000,
    };
  }
}
