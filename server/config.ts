/**
 * The server's options in one place: defaults, then environment (COMET_*), then flags; `resolveConfig` reports
 * every problem at once. Durations take a unit (`10s`, `250ms`, `2m`) or bare seconds (`10`; shared/duration.ts).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { EXIT, LabError, usageError } from '../shared/errors.ts';
import { parseDurationMs } from '../shared/duration.ts';
import { ENGINE_NAMES, type EngineName } from './engines/engine.ts';
import { readMaxFds } from './worker/worker-counters.ts';

export interface ServerOptions {
  /** Addresses to listen on, each with the same port (every worker listens on each). */
  hosts: string[];
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
  /** When set, every request that changes state (send, broadcast, /stats?gc=1, any non-GET) needs it as a bearer token. */
  adminToken: string | undefined;
  /** Extra Node flags for worker processes (e.g. --max-semi-space-size=1). */
  workerNodeFlags: string[];
  /** End the server when the process that started it goes away (stdin EOF, IPC channel closed, or re-parented). */
  exitWithParent: boolean;
  /** API connections the supervisor holds at once; the last API_RESERVE of them only for GET /health, /metrics, /stats. */
  maxApiConnections: number;
  /** An idle keep-alive API connection is closed after this. */
  apiIdleTimeoutMs: number;
  /** GET /stats?gc=1 runs its full collections at most once per this (a sooner one is 429 with Retry-After). */
  gcMinIntervalMs: number;
}

/** API connections kept for GET /health, /metrics and /stats (what monitoring reads) when the rest are taken. */
export const API_RESERVE = 32;

export const DEFAULTS: ServerOptions = {
  // loopback unless asked: the API (send, broadcast) is open without a token, so it listens nowhere else by default
  hosts: ['127.0.0.1'],
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
  exitWithParent: false,
  // 2,021 idle keep-alive API connections once took all of a supervisor's files (issue 17): the cap sits far below
  // the 20,000-file limit, and idle ones are closed first when it is reached
  maxApiConnections: 1000,
  apiIdleTimeoutMs: 5000,
  // four back-to-back ?gc=1 took send-to-receive p50 from 1.4 ms to 113.9 ms at 10,000 streams (issue 17)
  gcMinIntervalMs: 10_000,
};

/** Raw option values as strings (from flags or env), before validation. */
export type RawOptions = Partial<
  Record<
    | 'host'
    | 'port'
    | 'workers'
    | 'engine'
    | 'interval'
    | 'pollWait'
    | 'headersTimeout'
    | 'maxConnections'
    | 'backlog'
    | 'maxQueued'
    | 'adminTokenFile'
    | 'maxApiConnections'
    | 'apiIdleTimeout'
    | 'gcMinInterval',
    string
  >
> & { exitWithParent?: boolean };

type TextOption = Exclude<keyof RawOptions, 'exitWithParent'>;

const ENV: Record<TextOption, string> = {
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
  adminTokenFile: 'COMET_ADMIN_TOKEN_FILE',
  maxApiConnections: 'COMET_MAX_API_CONNECTIONS',
  apiIdleTimeout: 'COMET_API_IDLE_TIMEOUT',
  gcMinInterval: 'COMET_GC_MIN_INTERVAL',
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
  for (const key of Object.keys(ENV) as TextOption[]) {
    // an empty variable is an unset one (COMET_ADMIN_TOKEN_FILE= in a script turns the file off)
    const value = flags[key] ?? (env[ENV[key]] || undefined);
    if (value !== undefined) raw[key] = value;
  }
  const problems: string[] = [];
  const o: ServerOptions = {
    ...DEFAULTS,
    adminToken: env.COMET_ADMIN_TOKEN || undefined,
    workerNodeFlags: [...DEFAULTS.workerNodeFlags, ...(env.COMET_WORKER_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '')],
    exitWithParent: flags.exitWithParent === true || /^(1|true|yes)$/i.test(env.COMET_EXIT_WITH_PARENT ?? ''),
  };
  const check = (key: TextOption, parse: (s: string) => number, what: string, set: (n: number) => void) => {
    const text = raw[key];
    if (text === undefined) return;
    const n = parse(text);
    if (Number.isNaN(n)) problems.push(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${JSON.stringify(text)}: ${what}`);
    else set(n);
  };
  if (raw.host !== undefined) {
    const hosts = parseHosts(raw.host);
    if (typeof hosts === 'string') problems.push(`--host ${JSON.stringify(raw.host)}: ${hosts}`);
    else o.hosts = hosts;
  }
  if (raw.adminTokenFile !== undefined) {
    const token = readTokenFile(raw.adminTokenFile);
    if (token.startsWith('!')) problems.push(`--admin-token-file ${JSON.stringify(raw.adminTokenFile)}: ${token.slice(1)}`);
    else if (o.adminToken !== undefined && o.adminToken !== token) problems.push('COMET_ADMIN_TOKEN and --admin-token-file (COMET_ADMIN_TOKEN_FILE) disagree: give one');
    else o.adminToken = token;
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
  check('maxApiConnections', (s) => integer(s, API_RESERVE + 1, 100_000), `must be a number above ${API_RESERVE} (that many are kept for /health, /metrics and /stats)`, (n) => (o.maxApiConnections = n));
  check('apiIdleTimeout', duration, 'must be a duration like 5s', (n) => (o.apiIdleTimeoutMs = n));
  check('gcMinInterval', (s) => (s.trim() === '0' ? 0 : duration(s)), 'must be a duration like 10s (0: no bound)', (n) => (o.gcMinIntervalMs = n));
  const open = o.adminToken === undefined ? o.hosts.filter((h) => !isLoopback(h)) : [];
  if (open.length > 0) {
    const problem = `--host ${open.join(',')} listens beyond loopback and no admin token is set: POST /send and /broadcast would be open to every network it reaches`;
    const hint = 'set COMET_ADMIN_TOKEN or --admin-token-file (sends then need Authorization: Bearer <token>), or listen on 127.0.0.1';
    if (problems.length === 0) throw new LabError('LAB_ERR_OPEN_API', problem, { exitCode: EXIT.usage, hint });
    problems.push(`${problem} (${hint})`);
  }
  if (problems.length > 0) throw usageError(problems, 'see --help');
  return o;
}

/** 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) !== 6) return false;
  const v6 = new URL(`http://[${host}]/`).hostname; // canonical: [::1], [::ffff:7f00:1] for ::ffff:127.0.0.1
  return v6 === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(v6);
}

/**
 * `127.0.0.1,127.0.0.2`: IP addresses, each once. A wildcard (0.0.0.0, ::) already covers every address of its
 * family, so it cannot be combined with another of that family (the second bind would collide with the first).
 */
function parseHosts(text: string): string[] | string {
  const hosts = [...new Set(text.split(',').map((h) => h.trim()).filter((h) => h !== ''))];
  if (hosts.length === 0) return 'must name at least one address';
  const bad = hosts.filter((h) => isIP(h) === 0);
  if (bad.length > 0) return `${bad.join(', ')}: not an IP address (the server binds addresses, e.g. 127.0.0.1 or 0.0.0.0)`;
  for (const wildcard of ['0.0.0.0', '::']) {
    const family = isIP(wildcard);
    if (hosts.includes(wildcard) && hosts.some((h) => h !== wildcard && isIP(h) === family)) return `${wildcard} already listens on every address: list it alone`;
  }
  return hosts;
}

/** The token in a file (one line; surrounding whitespace dropped), or '!' and the problem. */
function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return `!cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const token = text.trim();
  if (token === '') return '!it is empty';
  if (/\s/.test(token)) return '!a token is one word without spaces';
  return token;
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
