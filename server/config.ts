/**
 * The server's options in one place: defaults, then environment (COMET_*), then flags; `resolveConfig` reports
 * every problem at once. Durations take milliseconds (`1500`) or a unit (`10s`, `250ms`, `2m`).
 */
import { availableParallelism } from 'node:os';
import { usageError } from '../shared/errors.ts';
import { parseDurationMs } from '../shared/duration.ts';
import { ENGINE_NAMES, type EngineName } from './engines/engine.ts';
import { readMaxFds } from './worker/worker-counters.ts';

export interface ServerOptions {
  host: string;
  port: number;
  workers: number | 'auto';
  engine: EngineName;
  intervalMs: number;
  pollWaitMs: number;
  headersTimeoutMs: number;
  /** The connection ceiling the server is sized for: `--workers auto` starts enough workers to hold it. */
  maxConnections: number;
  backlog: number;
  maxQueuedBytes: number;
  adminToken: string | undefined;
  /** Extra Node flags for worker processes (e.g. --max-semi-space-size=1). */
  workerNodeFlags: string[];
}

export const DEFAULTS: ServerOptions = {
  host: '0.0.0.0',
  port: 8000,
  workers: 'auto',
  engine: 'raw',
  intervalMs: 10_000,
  pollWaitMs: 30_000,
  headersTimeoutMs: 10_000,
  maxConnections: 10_000,
  backlog: 4096,
  maxQueuedBytes: 256 * 1024,
  adminToken: undefined,
  // a 1 MB young generation: an idle comet worker allocates little, and V8's default lets new space grow to
  // 16 MB x 2 during a ramp and keep it, about 300 bytes per stream at 15,000 streams (measured)
  // --expose-gc: the idle collection (worker/idle-gc.ts) then needs no extra V8 context to reach gc()
  workerNodeFlags: ['--max-semi-space-size=1', '--expose-gc'],
};

/** Raw option values as strings (from flags or env), before validation. */
export type RawOptions = Partial<Record<'host' | 'port' | 'workers' | 'engine' | 'interval' | 'pollWait' | 'headersTimeout' | 'maxConnections' | 'backlog' | 'maxQueued', string>>;

const ENV: Record<keyof RawOptions, string> = {
  host: 'COMET_HOST',
  port: 'COMET_PORT',
  workers: 'COMET_WORKERS',
  engine: 'COMET_ENGINE',
  interval: 'COMET_INTERVAL',
  pollWait: 'COMET_POLL_WAIT',
  headersTimeout: 'COMET_HEADERS_TIMEOUT',
  maxConnections: 'COMET_MAX_CONNECTIONS',
  backlog: 'COMET_BACKLOG',
  maxQueued: 'COMET_MAX_QUEUED',
};

/** `10s` -> 10000, `250ms` -> 250, `10` -> 10000 (bare seconds, as in every lab CLI), `2m` -> 120000; NaN when not a duration. */
export function parseDuration(text: string): number {
  return Math.round(parseDurationMs(text));
}

function integer(text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) return NaN;
  const n = Number(text);
  return n >= min && n <= max ? n : NaN;
}

/** Consolidates defaults -> env -> flags into options, or throws a usage LabError listing every problem. */
export function resolveConfig(flags: RawOptions, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const raw: RawOptions = {};
  for (const key of Object.keys(ENV) as (keyof RawOptions)[]) {
    const value = flags[key] ?? env[ENV[key]];
    if (value !== undefined) raw[key] = value;
  }
  const problems: string[] = [];
  const o: ServerOptions = {
    ...DEFAULTS,
    adminToken: env.COMET_ADMIN_TOKEN || undefined,
    workerNodeFlags: [...DEFAULTS.workerNodeFlags, ...(env.COMET_WORKER_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '')],
  };
  const check = (key: keyof RawOptions, parse: (s: string) => number, what: string, set: (n: number) => void) => {
    const text = raw[key];
    if (text === undefined) return;
    const n = parse(text);
    if (Number.isNaN(n)) problems.push(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${JSON.stringify(text)}: ${what}`);
    else set(n);
  };
  if (raw.host !== undefined) {
    if (raw.host.trim() === '') problems.push('--host: must not be empty');
    else o.host = raw.host.trim();
  }
  check('port', (s) => integer(s, 0, 65535), 'must be a port number 0-65535 (0: pick a free one)', (n) => (o.port = n));
  if (raw.workers !== undefined && raw.workers !== 'auto') {
    check('workers', (s) => integer(s, 1, 1024), 'must be auto or a number 1-1024', (n) => (o.workers = n));
  }
  if (raw.engine !== undefined) {
    if ((ENGINE_NAMES as readonly string[]).includes(raw.engine)) o.engine = raw.engine as EngineName;
    else problems.push(`--engine ${JSON.stringify(raw.engine)}: must be one of ${ENGINE_NAMES.join(', ')}`);
  }
  const duration = (s: string) => {
    const n = parseDuration(s);
    return n >= 1 && n <= 86_400_000 ? n : NaN;
  };
  check('interval', duration, 'must be a duration like 10s, 500ms or 10 (bare numbers are seconds)', (n) => (o.intervalMs = n));
  check('pollWait', duration, 'must be a duration like 30s', (n) => (o.pollWaitMs = n));
  check('headersTimeout', duration, 'must be a duration like 10s', (n) => (o.headersTimeoutMs = n));
  check('maxConnections', (s) => integer(s, 1, 100_000_000), 'must be a number of connections', (n) => (o.maxConnections = n));
  check('backlog', (s) => integer(s, 1, 1_000_000), 'must be a positive number', (n) => (o.backlog = n));
  check('maxQueued', (s) => integer(s, 1024, 1 << 30), 'must be bytes, at least 1024', (n) => (o.maxQueuedBytes = n));
  if (problems.length > 0) throw usageError(problems, 'see --help');
  return o;
}

/** File descriptors a worker keeps for itself (IPC, API hand-offs, /proc reads) under its soft limit. */
export const FD_RESERVE = 200;

/** Connections one worker may hold: its soft nofile limit minus the reserve. */
export function connectionsPerWorker(): number {
  const soft = readMaxFds();
  return Math.max(100, (soft > 0 ? soft : 1024) - FD_RESERVE);
}

/**
 * `auto`: max(cores, enough workers for maxConnections at connectionsPerWorker(), with 10% headroom). The kernel
 * spreads connections over SO_REUSEPORT listeners by a hash, not evenly: at 1,000,000 over 51 workers the fullest
 * one would get about 2.5 standard deviations (350) more than the mean and refuse some.
 */
export function resolveWorkers(options: ServerOptions): number {
  if (options.workers !== 'auto') return options.workers;
  return Math.max(availableParallelism(), Math.ceil((options.maxConnections * 1.1) / connectionsPerWorker()));
}
