/**
 * The CPU stage: process CPU per heartbeat chunk, server + client, comet-lab against the C reference pair, side by
 * side in one run. For each transport and chunk rate (n streams at an interval of n / rate), the two pairs run in
 * turn, `rounds` times each, alternating (C, comet-lab, C, ...) so that whatever else the shared machine does falls
 * on both: start, hold every stream, settle, measure a window (bench/pairs/cpu-window.ts), stop. comet-lab runs as a
 * user runs it: server/cli.ts (raw engine, one worker) and loadgen/cli.ts (one process).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { batchIoStatus } from '../../shared/raw-tcp/batch-io.ts';
import { buildCPair, type CPairBinaries } from '../c-pair/build.ts';
import { startCPair } from '../c-pair/c-pair.ts';
import { startCometPair } from './comet-pair.ts';
import { measureCpuWindow, type CpuWindow } from './cpu-window.ts';
import { cpuRunName } from './pair-figures.ts';
import { waitHeld, type Pair, type PairImpl, type PairSpec, type PairStageHooks, type PairStageResult, type PairTransport } from './pair.ts';

export interface CpuStageOptions extends PairStageHooks<CpuRun> {
  n: number;
  /** Heartbeat chunks per second asked of the server: n streams at an interval of n / rate. */
  rates: number[];
  transports: PairTransport[];
  windowSeconds: number;
  settleSeconds: number;
  rounds: number;
}

export interface CpuRun {
  impl: PairImpl;
  transport: PairTransport;
  /** Chunks per second asked (n / interval). */
  rate: number;
  intervalMs: number;
  round: number;
  window: CpuWindow;
}

/** What was asked, as asked, then what the stage found. */
export interface CpuStageResult extends PairStageResult<CpuRun>, Pick<CpuStageOptions, 'n' | 'rates' | 'transports' | 'windowSeconds' | 'settleSeconds' | 'rounds'> {
  /** gcc that built the C pair. */
  compiler: string;
  /** Whether comet-lab's processes used the batch-io addon, and from where (or why not). */
  batchIo: string;
}

export const CPU_METHOD =
  'per transport and chunk rate: n streams held on loopback at an interval of n / rate by each pair in turn (C first, alternating, ' +
  'each `rounds` times), settle, then a window: utime + stime of every process of each side (/proc/<pid>/stat, children included) ' +
  'divided by the chunks the client side counted in the window; host softirq + irq time (/proc/stat) per chunk reported apart, not added. ' +
  'C pair: bench/c-pair (one epoll loop per process, gcc -O2, one write per stream per heartbeat, one read per ready socket); ' +
  'comet-lab: server/cli.ts --engine raw --workers 1 (supervisor + worker) and loadgen/cli.ts --procs 1';

async function startPair(impl: PairImpl, spec: PairSpec, bins: CPairBinaries): Promise<Pair> {
  return impl === 'c' ? startCPair(spec, bins) : startCometPair(spec);
}

export async function runCpuStage(o: CpuStageOptions): Promise<CpuStageResult> {
  const bins = buildCPair();
  const result: CpuStageResult = {
    n: o.n,
    rates: o.rates,
    transports: o.transports,
    windowSeconds: o.windowSeconds,
    settleSeconds: o.settleSeconds,
    rounds: o.rounds,
    compiler: bins.compiler,
    batchIo: batchIoStatus().enabled ? `on (${batchIoStatus().detail})` : `off: ${batchIoStatus().detail}`,
    method: CPU_METHOD,
    runs: [],
    failures: [],
  };
  for (const transport of o.transports) {
    for (const rate of o.rates) {
      const intervalMs = Math.max(1, Math.round((o.n * 1000) / rate));
      for (let round = 1; round <= o.rounds; round++) {
        for (const impl of ['c', 'comet-lab'] as const) {
          if (o.signal.aborted) return result;
          const what = cpuRunName(impl, transport, rate, round);
          o.onProgress?.(`${what}: holding ${o.n} streams at ${intervalMs} ms`);
          let pair: Pair | undefined;
          const onAbort = () => void pair?.stop();
          o.signal.addEventListener('abort', onAbort, { once: true });
          try {
            pair = await startPair(impl, { n: o.n, intervalMs, transport, processes: 1 }, bins);
            const held = await waitHeld(pair, 60_000 + o.n, o.signal);
            if (held.active < o.n) throw new Error(`${held.active} of ${o.n} streams held (${held.failed} failed)`);
            await sleep(o.settleSeconds * 1000, undefined, { signal: o.signal });
            const window = await measureCpuWindow(pair, o.windowSeconds, o.signal);
            const run: CpuRun = { impl, transport, rate, intervalMs, round, window };
            result.runs.push(run);
            o.onRun?.(run);
          } catch (err) {
            if (o.signal.aborted) return result;
            result.failures.push({ what, error: (err as Error).message });
            o.onFailure?.(what, (err as Error).message);
          } finally {
            o.signal.removeEventListener('abort', onAbort);
            await pair?.stop();
          }
        }
      }
    }
  }
  return result;
}
