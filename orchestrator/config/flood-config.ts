/**
 * The flood's configuration, consolidated in one place: defaults, then environment (`LAB_*`), then flags.
 * Every value arrives as text (that is what env and argv hold) and is checked here, so that one run of
 * `resolveFloodConfig` reports every problem at once and nothing starts when there is one.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from '../../shared/errors.ts';
import { TRANSPORT_NAMES, type Transport } from '../../shared/contracts.ts';
import { parseDurationSeconds } from './duration.ts';
import type { Target } from '../targets/target.ts';
import { makeTarget, targetProblems } from '../targets/targets.ts';
import { thresholdProblems } from '../thresholds/summary-fields.ts';

export type BackendChoice = 'auto' | 'local' | 'docker' | 'swarm';

export interface FloodConfig {
  n: number;
  backend: BackendChoice;
  /** Connections per second, all load generators together. */
  rate: number;
  holdSeconds: number;
  /** Server heartbeat: a chunk on every stream this often. */
  intervalSeconds: number;
  /** Server engine name; empty = the server's own default. */
  engine: string;
  transport: Transport;
  /** Routed sends per second during the sends phase; 0 = no sends phase. */
  sendsRate: number;
  sendsSeconds: number;
  /** autocannon's concurrent HTTP connections in the sends phase. */
  sendsConnections: number;
  broadcast: boolean;
  force: boolean;
  json: boolean;
  /** Loopback port of the live page; undefined = no live page, 0 = any free port. */
  livePort: number | undefined;
  /** Loopback port of the Prometheus exporter (`lab_*` metrics); undefined = none, 0 = any free port. */
  metricsPort: number | undefined;
  out: string;
  report: boolean;
  /** Overrides of the planner's choice (0 = let the planner choose). */
  workers: number;
  loadgenProcs: number;
  sampleSeconds: number;
  /** Give up a ramp that has not gained a connection for this long. */
  stallSeconds: number;
  /** The server program the local backend starts (LAB_SERVER_ENTRY; default server/cli.ts). */
  serverEntry: string;
  /** How long to wait for another flood on this host to end before refusing with LAB_ERR_BUSY (0: refuse at once). */
  busyWaitSeconds: number;
  /** The server under test (orchestrator/targets/): comet-lab, nchan, nginx-idle, mochiweb, cmd:..., image:..., url:... */
  target: string;
  /** url: targets: the process (--server-pid) or container (--server-container) whose memory is measured. */
  serverPid: number | undefined;
  serverContainer: string | undefined;
  /** Pass/fail conditions on summary.json fields, as written (orchestrator/thresholds/). */
  thresholds: string[];
  /** How long a cmd: server gets to accept connections. */
  targetReadySeconds: number;
}

export const DEFAULTS: Omit<FloodConfig, 'n'> & { n: number } = {
  n: 0,
  backend: 'auto',
  rate: 2000,
  holdSeconds: 30,
  intervalSeconds: 10,
  engine: '',
  transport: 'chunked',
  sendsRate: 0,
  sendsSeconds: 10,
  // 16 held the rate near 10,000/s at 300,000 connections (each send waits a round trip on busy cores); 64 leaves
  // room for the >= 20,000/s target.
  sendsConnections: 64,
  broadcast: false,
  force: false,
  json: false,
  // On by default, on any free loopback port (printed at start): watching a flood should need no flag.
  livePort: 0,
  metricsPort: 0,
  out: 'reports',
  report: true,
  workers: 0,
  loadgenProcs: 0,
  sampleSeconds: 1,
  stallSeconds: 30,
  serverEntry: '',
  busyWaitSeconds: 0,
  target: 'comet-lab',
  serverPid: undefined,
  serverContainer: undefined,
  thresholds: [],
  // A JVM, or a first `npx` run, can take a while to listen.
  targetReadySeconds: 30,
};

/** Raw text per option: what commander hands over, or an environment variable; thresholds may repeat. */
export type RawOptions = Partial<Record<Exclude<keyof FloodConfig, 'thresholds'>, string | boolean | undefined>> & { thresholds?: string[] | string };

/** Environment variables read, by option. Flags win over these. */
export const ENV_NAMES: Partial<Record<keyof FloodConfig, string>> = {
  n: 'LAB_N',
  backend: 'LAB_BACKEND',
  rate: 'LAB_RATE',
  holdSeconds: 'LAB_HOLD',
  intervalSeconds: 'LAB_INTERVAL',
  engine: 'LAB_ENGINE',
  transport: 'LAB_TRANSPORT',
  out: 'LAB_OUT',
  livePort: 'LAB_LIVE_PORT',
  metricsPort: 'LAB_METRICS_PORT',
  workers: 'LAB_WORKERS',
  loadgenProcs: 'LAB_LOADGEN_PROCS',
  serverEntry: 'LAB_SERVER_ENTRY',
  busyWaitSeconds: 'LAB_FLOOD_WAIT',
  target: 'LAB_TARGET',
  serverPid: 'LAB_SERVER_PID',
  serverContainer: 'LAB_SERVER_CONTAINER',
  // Several thresholds in one variable: separated by `;` (LAB_THRESHOLDS='errors.total==0;chunks.deliveredPct>=99').
  thresholds: 'LAB_THRESHOLDS',
  targetReadySeconds: 'LAB_TARGET_READY_TIMEOUT',
};

const BACKENDS: BackendChoice[] = ['auto', 'local', 'docker', 'swarm'];
const TRANSPORTS: readonly Transport[] = TRANSPORT_NAMES;

/**
 * Layers defaults, env and flags, validates everything and returns the config, or throws one LAB_ERR_USAGE
 * (exit 2) listing every problem. `checkOut` also makes sure the report folder can be written.
 */
export function resolveFloodConfig(flags: RawOptions, env: NodeJS.ProcessEnv = {}, checkOut = true): FloodConfig {
  const raw: RawOptions = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[key as keyof FloodConfig] = v;
  }
  for (const [key, v] of Object.entries(flags)) if (v !== undefined) (raw as Record<string, unknown>)[key] = v;

  const problems: string[] = [];
  const cfg: FloodConfig = { ...DEFAULTS };

  const int = (key: keyof FloodConfig, label: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const v = raw[key];
    if (v === undefined || typeof v === 'boolean') return undefined;
    const s = String(v).trim().replace(/_/g, '');
    const num = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(num) || num < min || num > max) {
      problems.push(`${label} must be an integer from ${min} to ${max}, got '${v}'`);
      return undefined;
    }
    return num;
  };
  const seconds = (key: keyof FloodConfig, label: string, min: number): number | undefined => {
    const v = raw[key];
    if (v === undefined || typeof v === 'boolean') return undefined;
    const s = parseDurationSeconds(String(v));
    if (!Number.isFinite(s) || s < min) {
      problems.push(`${label} must be a duration of at least ${min}s (e.g. 30s, 500ms, 2m), got '${v}'`);
      return undefined;
    }
    return s;
  };
  const bool = (key: keyof FloodConfig): boolean | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    return v === true || v === 'true' || v === '1';
  };

  if (raw.n === undefined) problems.push('--n is required: the number of connections to hold (e.g. --n 100000)');
  cfg.n = int('n', '--n', 1, 10_000_000) ?? 0;
  cfg.rate = int('rate', '--rate (connections per second)', 1, 1_000_000) ?? cfg.rate;
  cfg.holdSeconds = seconds('holdSeconds', '--hold', 0) ?? cfg.holdSeconds;
  cfg.intervalSeconds = seconds('intervalSeconds', '--interval', 0.05) ?? cfg.intervalSeconds;
  cfg.sendsRate = int('sendsRate', '--sends-rate', 0, 1_000_000) ?? cfg.sendsRate;
  cfg.sendsSeconds = seconds('sendsSeconds', '--sends-duration', 1) ?? cfg.sendsSeconds;
  cfg.sendsConnections = int('sendsConnections', '--sends-connections', 1, 10_000) ?? cfg.sendsConnections;
  cfg.workers = int('workers', '--workers', 0, 256) ?? cfg.workers;
  cfg.loadgenProcs = int('loadgenProcs', '--loadgen-procs', 0, 1024) ?? cfg.loadgenProcs;
  cfg.sampleSeconds = seconds('sampleSeconds', '--sample', 0.2) ?? cfg.sampleSeconds;
  cfg.stallSeconds = seconds('stallSeconds', '--stall-timeout', 1) ?? cfg.stallSeconds;
  cfg.busyWaitSeconds = seconds('busyWaitSeconds', '--wait-busy', 0) ?? cfg.busyWaitSeconds;
  cfg.targetReadySeconds = seconds('targetReadySeconds', '--target-ready-timeout', 0.5) ?? cfg.targetReadySeconds;
  // false (--no-live, --no-metrics) or `off` (env) turns them off.
  if (raw.livePort === false || raw.livePort === 'off') cfg.livePort = undefined;
  else if (raw.livePort !== undefined) cfg.livePort = int('livePort', '--live-port', 0, 65535);
  if (raw.metricsPort === false || raw.metricsPort === 'off') cfg.metricsPort = undefined;
  else if (raw.metricsPort !== undefined) cfg.metricsPort = int('metricsPort', '--metrics-port', 0, 65535);

  const backend = raw.backend;
  if (backend !== undefined) {
    if (BACKENDS.includes(backend as BackendChoice)) cfg.backend = backend as BackendChoice;
    else problems.push(`--backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`);
  }
  const transport = raw.transport;
  if (transport !== undefined) {
    if (TRANSPORTS.includes(transport as Transport)) cfg.transport = transport as Transport;
    else problems.push(`--transport must be one of ${TRANSPORTS.join(', ')}, got '${transport}'`);
  }
  if (typeof raw.engine === 'string') {
    if (/^[a-z0-9_-]*$/i.test(raw.engine)) cfg.engine = raw.engine;
    else problems.push(`--engine must be a plain name, got '${raw.engine}'`);
  }
  cfg.broadcast = bool('broadcast') ?? cfg.broadcast;
  cfg.force = bool('force') ?? cfg.force;
  cfg.json = bool('json') ?? cfg.json;
  cfg.report = bool('report') ?? cfg.report;
  if (typeof raw.out === 'string') cfg.out = raw.out;
  if (typeof raw.serverEntry === 'string') cfg.serverEntry = raw.serverEntry;
  if (typeof raw.target === 'string') cfg.target = raw.target.trim();
  cfg.serverPid = raw.serverPid === undefined ? undefined : int('serverPid', '--server-pid', 1, 2 ** 22);
  if (typeof raw.serverContainer === 'string' && raw.serverContainer !== '') cfg.serverContainer = raw.serverContainer;
  problems.push(...targetProblems(cfg.target, { serverPid: cfg.serverPid, serverContainer: cfg.serverContainer }));
  const thresholds = typeof raw.thresholds === 'string' ? raw.thresholds.split(';').filter((t) => t.trim() !== '') : (raw.thresholds ?? []);
  problems.push(...thresholdProblems(thresholds));
  cfg.thresholds = thresholds.map((t) => t.trim());
  // A backend runs the target it is given or refuses it: the swarm backend starts comet-lab's own server whatever the
  // target, so `--backend swarm --target nchan` measured comet-lab while run.json named nchan.
  if (cfg.backend !== 'auto' && targetProblems(cfg.target).length === 0) {
    const problem = backendProblem(makeTarget(cfg.target), cfg.backend);
    if (problem) problems.push(problem);
  }
  cfg.out = resolve(cfg.out);
  if (checkOut && cfg.report) {
    const problem = unwritableFolder(cfg.out);
    if (problem) problems.push(`--out ${cfg.out}: ${problem}`);
  }

  if (problems.length > 0) throw usageError(problems, 'see `orchestrator/cli.ts flood --help`');
  return cfg;
}

const WHY_ONLY: Record<'local' | 'docker' | 'swarm', string> = {
  local: 'the lab starts it as a process, or reaches it on loopback',
  docker: 'the lab starts it as the server container on the Docker lab: make lab-up, then --backend docker or auto',
  swarm: "the swarm backend starts comet-lab's own server on the swarm's nodes and nothing else",
};

/**
 * Why `backend` cannot run `target`, or undefined when it can. A backend given a target it cannot start would measure
 * another server under the target's name.
 */
export function backendProblem(target: Pick<Target, 'name' | 'backends'>, backend: 'local' | 'docker' | 'swarm'): string | undefined {
  if (target.backends.includes(backend)) return undefined;
  const only = target.backends.join(' or ');
  return `--target ${target.name} runs on the ${only} backend (${WHY_ONLY[target.backends[0]!]}), not --backend ${backend}${backend === 'swarm' ? ` (${WHY_ONLY.swarm})` : ''}`;
}

/** Creates the folder if needed; returns why it cannot be written to, or undefined when it can. */
function unwritableFolder(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) return 'not a folder';
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return `cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}
