/**
 * The bench's configuration in one place: defaults, then environment (`BENCH_*`), then flags. Every value arrives
 * as text and is checked here; one call reports every problem at once (LAB_ERR_USAGE, exit 2) and nothing starts.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_NAMES } from '../server/engines/engine.ts';
import { parseDurationSeconds } from '../orchestrator/config/duration.ts';
import { usageError } from '../shared/errors.ts';
import { TRANSPORT_NAMES, type Transport } from '../shared/contracts.ts';
import { PAIR_TRANSPORTS, type PairTransport } from './pairs/pair.ts';

export const STAGES = ['memory', 'cpu', 'flood', 'fanout', 'sends', 'broadcast'] as const;
export type Stage = (typeof STAGES)[number];
export const REFERENCES = ['floor', 'nchan', 'mochiweb'] as const;
export type Reference = (typeof REFERENCES)[number];

const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface BenchConfig {
  stages: Stage[];
  /** Flood sizes, in order. */
  n: number[];
  /** Connections of the memory stage (one worker, so below the 20,000 file limit). */
  memoryN: number;
  engines: string[];
  references: Reference[];
  /** Server heartbeat, seconds (the seed's 10 s is the headline). */
  intervalSeconds: number;
  holdSeconds: number;
  /** Connections per second asked of the load generators (floods) and of the memory stage's client. */
  rate: number;
  /** Engine of the flood's server; empty = the server's default. */
  floodEngine: string;
  /** What the floods' connections speak (the targets are judged on chunked floods, the seed's transport). */
  floodTransport: Transport;
  sendsRate: number;
  sendsSeconds: number;
  /** Longest wait before each memory target for TIME_WAIT sockets (which hold client ports) to expire. */
  portDrainSeconds: number;
  /** CPU stage (against the C pair): streams held, chunk rates asked, transports, window, settle, rounds. */
  cpuN: number;
  cpuRates: number[];
  cpuTransports: PairTransport[];
  cpuWindowSeconds: number;
  cpuSettleSeconds: number;
  cpuRounds: number;
  /** Broadcast stage (against the C pair): connection counts, broadcasts per pair. */
  broadcastN: number[];
  broadcastRounds: number;
  /** Hard bound per flood in seconds; 0 = worked out from N, rate, hold and sends. */
  timeLimitSeconds: number;
  /** Run each N as asked even where kernel/'s assessCapacity says it does not fit (the memory guard still applies). */
  force: boolean;
  resultsDir: string;
  reportsDir: string;
  /** README whose `bench` section gets the results table; empty = leave README alone. */
  readme: string;
  /** Names the results file; default the host name. */
  hostLabel: string;
}

export const DEFAULTS: BenchConfig = {
  stages: [...STAGES],
  n: [100_000, 1_000_000],
  memoryN: 15_000,
  engines: [...ENGINE_NAMES],
  references: [...REFERENCES],
  intervalSeconds: 10,
  holdSeconds: 30,
  rate: 10_000,
  floodEngine: '',
  floodTransport: 'chunked',
  sendsRate: 20_000,
  sendsSeconds: 10,
  portDrainSeconds: 65,
  cpuN: 10_000,
  cpuRates: [10_000, 100_000],
  cpuTransports: [...PAIR_TRANSPORTS],
  cpuWindowSeconds: 10,
  cpuSettleSeconds: 10,
  cpuRounds: 3,
  broadcastN: [100_000],
  broadcastRounds: 3,
  timeLimitSeconds: 0,
  force: false,
  resultsDir: resolve(REPO, 'bench/results'),
  reportsDir: resolve(REPO, 'reports'),
  readme: resolve(REPO, 'README.md'),
  hostLabel: '',
};

export type RawBenchOptions = Partial<Record<
  | 'only' | 'n' | 'memoryN' | 'engines' | 'references' | 'interval' | 'hold' | 'rate' | 'engine' | 'transport' | 'sendsRate' | 'sendsDuration' | 'portDrain' | 'timeLimit' | 'force' | 'resultsDir' | 'reportsDir' | 'readme' | 'hostLabel'
  | 'cpuN' | 'cpuRates' | 'cpuTransports' | 'cpuWindow' | 'cpuSettle' | 'cpuRounds' | 'broadcastN' | 'broadcastRounds',
  string
>>;

export const ENV_NAMES: Record<keyof RawBenchOptions, string> = {
  only: 'BENCH_ONLY',
  n: 'BENCH_N',
  memoryN: 'BENCH_MEMORY_N',
  engines: 'BENCH_ENGINES',
  references: 'BENCH_REFERENCES',
  interval: 'BENCH_INTERVAL',
  hold: 'BENCH_HOLD',
  rate: 'BENCH_RATE',
  engine: 'BENCH_ENGINE',
  transport: 'BENCH_TRANSPORT',
  sendsRate: 'BENCH_SENDS_RATE',
  sendsDuration: 'BENCH_SENDS_DURATION',
  portDrain: 'BENCH_PORT_DRAIN',
  timeLimit: 'BENCH_TIME_LIMIT',
  force: 'BENCH_FORCE',
  resultsDir: 'BENCH_RESULTS_DIR',
  reportsDir: 'BENCH_REPORTS_DIR',
  readme: 'BENCH_README',
  hostLabel: 'BENCH_HOST_LABEL',
  cpuN: 'BENCH_CPU_N',
  cpuRates: 'BENCH_CPU_RATES',
  cpuTransports: 'BENCH_CPU_TRANSPORTS',
  cpuWindow: 'BENCH_CPU_WINDOW',
  cpuSettle: 'BENCH_CPU_SETTLE',
  cpuRounds: 'BENCH_CPU_ROUNDS',
  broadcastN: 'BENCH_BROADCAST_N',
  broadcastRounds: 'BENCH_BROADCAST_ROUNDS',
};

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** Layers defaults, env and flags; throws one usage error listing every problem. */
export function resolveBenchConfig(flags: RawBenchOptions, env: NodeJS.ProcessEnv = {}): BenchConfig {
  const raw: RawBenchOptions = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) if (env[name]) raw[key as keyof RawBenchOptions] = env[name];
  for (const [key, v] of Object.entries(flags)) if (v !== undefined) raw[key as keyof RawBenchOptions] = v;
  const cfg: BenchConfig = { ...DEFAULTS };
  const problems: string[] = [];

  const int = (v: string, label: string, min: number, max: number): number | undefined => {
    const s = v.trim().replace(/_/g, '');
    const num = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(num) || num < min || num > max) {
      problems.push(`${label} must be an integer from ${min} to ${max}, got '${v}'`);
      return undefined;
    }
    return num;
  };
  const seconds = (v: string, label: string, min: number): number | undefined => {
    const s = parseDurationSeconds(v);
    if (!Number.isFinite(s) || s < min) {
      problems.push(`${label} must be a duration of at least ${min}s (e.g. 10s, 500ms, 2m), got '${v}'`);
      return undefined;
    }
    return s;
  };
  const oneOf = <T extends string>(v: string, label: string, allowed: readonly T[]): T[] | undefined => {
    const items = list(v);
    const bad = items.filter((x) => !allowed.includes(x as T));
    if (items.length === 0 || bad.length > 0) {
      problems.push(`${label} takes a comma-separated list of ${allowed.join(', ')}; got '${v}'`);
      return undefined;
    }
    return [...new Set(items)] as T[];
  };

  if (raw.only !== undefined) cfg.stages = oneOf(raw.only, '--only', STAGES) ?? cfg.stages;
  if (raw.n !== undefined) {
    const ns = list(raw.n).map((x) => int(x, '--n (each)', 1, 10_000_000));
    if (ns.length === 0) problems.push(`--n takes a comma-separated list of connection counts, got '${raw.n}'`);
    else if (ns.every((x) => x !== undefined)) cfg.n = ns as number[];
  }
  if (raw.memoryN !== undefined) cfg.memoryN = int(raw.memoryN, '--memory-n', 1, 19_000) ?? cfg.memoryN;
  if (raw.engines !== undefined) cfg.engines = oneOf(raw.engines, '--engines', ENGINE_NAMES) ?? cfg.engines;
  if (raw.references !== undefined) cfg.references = raw.references.trim() === 'none' ? [] : (oneOf(raw.references, '--references (or none)', REFERENCES) ?? cfg.references);
  if (raw.interval !== undefined) cfg.intervalSeconds = seconds(raw.interval, '--interval', 0.05) ?? cfg.intervalSeconds;
  if (raw.hold !== undefined) cfg.holdSeconds = seconds(raw.hold, '--hold', 1) ?? cfg.holdSeconds;
  if (raw.rate !== undefined) cfg.rate = int(raw.rate, '--rate', 1, 1_000_000) ?? cfg.rate;
  if (raw.engine !== undefined) {
    if (raw.engine === '' || (ENGINE_NAMES as readonly string[]).includes(raw.engine)) cfg.floodEngine = raw.engine;
    else problems.push(`--engine must be one of ${ENGINE_NAMES.join(', ')}, got '${raw.engine}'`);
  }
  if (raw.transport !== undefined) {
    if ((TRANSPORT_NAMES as readonly string[]).includes(raw.transport)) cfg.floodTransport = raw.transport as Transport;
    else problems.push(`--transport must be one of ${TRANSPORT_NAMES.join(', ')}, got '${raw.transport}'`);
  }
  if (raw.sendsRate !== undefined) cfg.sendsRate = int(raw.sendsRate, '--sends-rate', 1, 1_000_000) ?? cfg.sendsRate;
  if (raw.sendsDuration !== undefined) cfg.sendsSeconds = seconds(raw.sendsDuration, '--sends-duration', 1) ?? cfg.sendsSeconds;
  if (raw.portDrain !== undefined) cfg.portDrainSeconds = seconds(raw.portDrain, '--port-drain', 0) ?? cfg.portDrainSeconds;
  const intList = (v: string, label: string, min: number, max: number): number[] | undefined => {
    const xs = list(v).map((x) => int(x, `${label} (each)`, min, max));
    if (xs.length === 0) problems.push(`${label} takes a comma-separated list, got '${v}'`);
    return xs.length > 0 && xs.every((x) => x !== undefined) ? (xs as number[]) : undefined;
  };
  if (raw.cpuN !== undefined) cfg.cpuN = int(raw.cpuN, '--cpu-n', 1, 19_000) ?? cfg.cpuN;
  if (raw.cpuRates !== undefined) cfg.cpuRates = intList(raw.cpuRates, '--cpu-rates', 1, 1_000_000) ?? cfg.cpuRates;
  if (raw.cpuTransports !== undefined) cfg.cpuTransports = oneOf(raw.cpuTransports, '--cpu-transports', PAIR_TRANSPORTS) ?? cfg.cpuTransports;
  if (raw.cpuWindow !== undefined) cfg.cpuWindowSeconds = seconds(raw.cpuWindow, '--cpu-window', 1) ?? cfg.cpuWindowSeconds;
  if (raw.cpuSettle !== undefined) cfg.cpuSettleSeconds = seconds(raw.cpuSettle, '--cpu-settle', 0) ?? cfg.cpuSettleSeconds;
  if (raw.cpuRounds !== undefined) cfg.cpuRounds = int(raw.cpuRounds, '--cpu-rounds', 1, 20) ?? cfg.cpuRounds;
  if (raw.broadcastN !== undefined) cfg.broadcastN = intList(raw.broadcastN, '--broadcast-n', 1, 10_000_000) ?? cfg.broadcastN;
  if (raw.broadcastRounds !== undefined) cfg.broadcastRounds = int(raw.broadcastRounds, '--broadcast-rounds', 1, 20) ?? cfg.broadcastRounds;
  if (raw.timeLimit !== undefined) cfg.timeLimitSeconds = raw.timeLimit === 'auto' ? 0 : (seconds(raw.timeLimit, '--time-limit (or auto)', 10) ?? 0);
  if (raw.force !== undefined) {
    if (/^(true|1|yes)$/i.test(raw.force)) cfg.force = true;
    else if (/^(false|0|no)$/i.test(raw.force)) cfg.force = false;
    else problems.push(`BENCH_FORCE must be true or false, got '${raw.force}'`);
  }
  if (raw.resultsDir !== undefined) cfg.resultsDir = resolve(raw.resultsDir);
  if (raw.reportsDir !== undefined) cfg.reportsDir = resolve(raw.reportsDir);
  if (raw.readme !== undefined) cfg.readme = raw.readme === 'none' ? '' : resolve(raw.readme);
  if (raw.hostLabel !== undefined) {
    if (/^[A-Za-z0-9_.-]{1,64}$/.test(raw.hostLabel)) cfg.hostLabel = raw.hostLabel;
    else problems.push(`--host-label must be 1-64 of [A-Za-z0-9_.-], got '${raw.hostLabel}'`);
  }
  if (cfg.stages.includes('memory') && cfg.engines.length === 0 && cfg.references.length === 0) problems.push('the memory stage has nothing to measure');
  if (problems.length > 0) throw usageError(problems, 'see `node_modules/.bin/node bench/cli.ts --help`');
  return cfg;
}

/** The flood's hard time bound: twice the planned ramp, the hold, sends, broadcast and start/stop, with room. */
export function floodTimeLimit(cfg: BenchConfig, n: number): number {
  if (cfg.timeLimitSeconds > 0) return cfg.timeLimitSeconds;
  return Math.ceil((2 * n) / cfg.rate + cfg.holdSeconds + cfg.sendsSeconds + 30 + 90 + n / 2000);
}
