/**
 * Stages 2-4 at one N: one flood through the orchestrator's exported flood() (local backend), which ramps, holds,
 * runs the routed sends (autocannon against POST /send/:id) and one broadcast in that order. The bench adds a
 * capture listener (samples, /proc/stat and cgroup readings at each phase change) and a hard time bound, and
 * turns the flood's summary and outcome into figures (flood-figures.ts).
 */
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { readHostLimits, assessCapacity } from '../../kernel/index.ts';
import { LocalBackend } from '../../orchestrator/backends/local/local-backend.ts';
import { resolveFloodConfig } from '../../orchestrator/config/flood-config.ts';
import { flood, REPO_ROOT } from '../../orchestrator/flood.ts';
import type { FloodRun } from '../../orchestrator/run/flood-run.ts';
import type { RunSample } from '../../orchestrator/run/sample.ts';
import type { Transport } from '../../shared/contracts.ts';
import { LabError } from '../../shared/errors.ts';
import { floodCapture } from './flood-capture.ts';
import { floodFigures, type FloodFigures } from './flood-figures.ts';

export interface FloodStageOptions {
  n: number;
  rate: number;
  holdSeconds: number;
  intervalSeconds: number;
  engine: string;
  /** What the connections speak (default chunked). */
  transport?: Transport;
  broadcast: boolean;
  /** Routed sends per second; 0 = no sends phase. */
  sendsRate: number;
  sendsSeconds: number;
  /** Hard bound on the whole flood; past it the run is aborted and reported as such. */
  timeLimitSeconds: number;
  /** Run N as asked even where assessCapacity says it does not fit (the memory guard still applies). */
  force?: boolean;
  /** Where the orchestrator's report folders go. */
  reportsDir: string;
  stdout: Writable;
  stderr: Writable;
  signal: AbortSignal;
  onSample?: (n: number, s: RunSample) => void;
  onPhase?: (n: number, phase: string) => void;
}

/**
 * What the doctor's arithmetic says this host holds for N, and the N the flood will actually ask for: N itself when
 * it fits or when forced (kernel/'s estimate is an upper bound; the memory guard stops a run that really runs out).
 */
export function capacityFor(n: number, force = false): { asked: number; run: number; maxN: number; limitedBy: string; fits: boolean; planRefusal?: string } {
  const a = assessCapacity(readHostLimits(), { n, backend: 'local' });
  const run = a.fits || force ? n : Math.max(1000, Math.floor(a.maxN / 1000) * 1000);
  return { asked: n, run, maxN: a.maxN, limitedBy: a.limitedBy, fits: a.fits };
}

/** MemAvailable (bytes) from /proc/meminfo. */
function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'));
  return m ? Number(m[1]) * 1024 : Infinity;
}

/** Below this much available memory the flood is stopped: an OOM kill would hit whatever else runs on the host. */
const MEMORY_GUARD_BYTES = 1.5 * 2 ** 30;

export async function floodStage(opts: FloodStageOptions): Promise<FloodFigures> {
  const capacity = capacityFor(opts.n, opts.force);
  const configFor = (n: number) => resolveFloodConfig({
    n: String(n),
    backend: 'local',
    rate: String(opts.rate),
    holdSeconds: `${opts.holdSeconds}s`,
    intervalSeconds: `${opts.intervalSeconds}s`,
    engine: opts.engine,
    transport: opts.transport ?? 'chunked',
    broadcast: opts.broadcast,
    sendsRate: String(opts.sendsRate),
    sendsSeconds: `${Math.max(1, opts.sendsSeconds)}s`,
    out: opts.reportsDir,
    livePort: false, // no live page or exporter: the bench is a batch job, and each costs CPU the run measures
    metricsPort: false,
    // The planner refuses what kernel/ says does not fit; capacityFor already lowered N to what fits, unless forced.
    force: !capacity.fits || opts.force === true,
    // One flood per host: the bench waits for another one (a test's, on a shared machine) rather than fail the stage.
    busyWaitSeconds: '10m',
  }, {});
  const config = configFor(capacity.run);
  let guard: string | undefined;
  const capture = floodCapture((s) => {
    opts.onSample?.(capacity.run, s);
    const avail = memAvailable();
    if (avail < MEMORY_GUARD_BYTES && !guard) {
      guard = `memory guard: MemAvailable ${(avail / 2 ** 30).toFixed(2)} GiB < 1.5 GiB at ${s.connections.client ?? 0} connections`;
      run?.abort(guard);
    }
  }, (p) => opts.onPhase?.(capacity.run, p));
  const signals = new EventEmitter();
  let run: FloodRun | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    run?.abort(`the bench's time bound (${opts.timeLimitSeconds} s) passed`);
  }, opts.timeLimitSeconds * 1000);
  const onAbort = () => signals.emit('SIGINT');
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await flood(config, { stdout: opts.stdout, stderr: opts.stderr, env: {}, signals }, {
      listeners: [capture.listener],
      onRun: (r) => (run = r),
      backend: (plan, runId) => {
        capture.runId = runId;
        // The same backend flood() would make for a local run, kept here so the cgroups' names are known.
        const lifetime = (2 * plan.n) / plan.rampRate + plan.holdSeconds + (config.sendsRate ? config.sendsSeconds : 0) + 300;
        return new LocalBackend({ runId, lifetimeSeconds: lifetime, cwd: REPO_ROOT, logDir: newestReportLogs(config.out, plan.n) });
      },
    });
    if (!result.summary || !result.reportDir) throw new LabError('LAB_ERR_NO_REPORT', `the flood at ${capacity.run} left no report`);
    return floodFigures({ summary: result.summary, reportDir: result.reportDir, plan: result.plan, capture, capacity, timedOut, options: opts });
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
  }
}

/** The report folder flood() just made for this N (it is made before the backend), for the components' logs. */
function newestReportLogs(reportsDir: string, n: number): string | undefined {
  try {
    const dir = readdirSync(reportsDir).filter((d) => d.endsWith(`-local-${n}`)).sort().at(-1);
    return dir && existsSync(join(reportsDir, dir, 'logs')) ? join(reportsDir, dir, 'logs') : undefined;
  } catch {
    return undefined;
  }
}
