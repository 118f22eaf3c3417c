/**
 * The load generator's configuration: defaults, then `LOADGEN_*` environment variables, then flags; every problem
 * is reported at once. Flags arrive as strings (from commander or a test) so validation lives in one place.
 */
import { readFileSync } from 'node:fs';
import { TRANSPORT_NAMES, type Transport } from '../shared/contracts.ts';
import { DURATION_HINT, parseDurationMs } from '../shared/duration.ts';
import { configuredToken, type TokenSource } from './control-token.ts';
import { IO_NAMES } from './io/client-io.ts';
import type { IoChoice } from './io/choose-io.ts';
import { POOL_DEFAULTS } from './pool-spec.ts';
import { ephemeralPortRange } from './port-allocator.ts';
import { parseSourceAddresses } from './source-addresses.ts';
import { parseUrlFile, urlProblem, type BadUrlLine } from './targets.ts';

/** The flags, as strings, by their long name in camelCase (`--source-ips` is `sourceIps`). */
export interface RawOptions {
  url?: string;
  urlsFile?: string;
  count?: string;
  start?: string;
  interval?: string;
  rate?: string;
  hold?: string | boolean;
  maxConnecting?: string;
  connectTimeout?: string;
  sourceIps?: string;
  localPorts?: string;
  procs?: string;
  duration?: string;
  holdFor?: string;
  controlPort?: string;
  controlHost?: string;
  transport?: string;
  reconnect?: string | boolean;
  keepOpen?: string | boolean;
  backoffBase?: string;
  backoffMax?: string;
  reportEvery?: string;
  io?: string;
  pacing?: string;
  paceLatency?: string;
  connectRetries?: string;
  controlTokenFile?: string;
  /** No flag (a flag shows in `ps`): LOADGEN_CONTROL_TOKEN only. */
  controlToken?: string;
}

export const OPTION_NAMES: Array<keyof RawOptions> = [
  'url',
  'urlsFile',
  'count',
  'start',
  'interval',
  'rate',
  'hold',
  'maxConnecting',
  'connectTimeout',
  'sourceIps',
  'localPorts',
  'procs',
  'duration',
  'holdFor',
  'controlPort',
  'controlHost',
  'transport',
  'reconnect',
  'keepOpen',
  'backoffBase',
  'backoffMax',
  'reportEvery',
  'io',
  'pacing',
  'paceLatency',
  'connectRetries',
  'controlTokenFile',
  'controlToken',
];

/**
 * The pace of a count given without --rate, --interval or --hold: the orchestrator's own default ramp rate (`make
 * flood`), at which 100,000 connections ramped here at 1,978/s with no error (README). Closed-loop pacing lowers it
 * by itself where a server accepts more slowly.
 */
export const DEFAULT_RATE = 2000;

/** Where the pace came from (said in the ready line). */
export type RateSource = 'default' | '--rate' | '--interval' | '--hold';

export interface LoadgenConfig {
  template: string | undefined;
  urls: string[] | undefined; // from --urls-file
  urlsFile: { path: string; blank: number; comments: number; bad: BadUrlLine[] } | undefined;
  count: number;
  start: number;
  /** Connections per second at start; 0: open nothing until POST /ramp. */
  rate: number;
  rateSource: RateSource;
  /** Closed-loop pacing (default) or the rate as given (--pacing fixed). */
  closedLoop: boolean;
  paceLatencyMs: number;
  connectRetries: number;
  io: IoChoice;
  /** The control API's token when given (--control-token-file, LOADGEN_CONTROL_TOKEN); else one is made at start. */
  controlToken: string | undefined;
  controlTokenSource: TokenSource | undefined;
  maxConnecting: number;
  connectTimeoutMs: number;
  sourceAddresses: string[];
  portRange: [number, number];
  procs: number;
  durationSeconds: number;
  holdForSeconds: number; // after the ramp reached its target; 0: hold until --duration
  controlPort: number | undefined;
  controlHost: string;
  transport: Transport;
  reconnect: boolean;
  /** A connection whose response ended stays open and active, idle (a keep-alive server's floor: nginx-idle). */
  keepOpen: boolean;
  backoffBaseMs: number;
  backoffMaxMs: number;
  reportEveryMs: number;
}

/** Connections one process may hold: its open-file limit minus room for the control port, IPC and stdio. */
export function connectionsPerProcess(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Math.max(100, Number(m[1]) - 200);
  } catch {
    // no /proc: assume this host's limit
  }
  return 19800;
}

function envName(key: string): string {
  return `LOADGEN_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Flags over environment: `LOADGEN_SOURCE_IPS` etc. fill what the flags left out. */
export function layerEnv(flags: RawOptions, env: NodeJS.ProcessEnv): RawOptions {
  const out: RawOptions = {};
  for (const key of OPTION_NAMES) {
    const v = flags[key] ?? env[envName(key)];
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}

function isOn(v: string | boolean | undefined): boolean {
  return v === true || v === 'true' || v === '1' || v === 'yes';
}

/** Validates every option; returns the config or every problem found. Reads the URL file. */
export function buildConfig(raw: RawOptions, perProcess = connectionsPerProcess()): { config?: LoadgenConfig; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const int = (name: string, v: string | undefined, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
      problems.push(`--${name}: "${v}" must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
      return dflt;
    }
    return Number(v);
  };
  const dur = (name: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const ms = parseDurationMs(v);
    if (Number.isNaN(ms)) problems.push(`--${name}: "${v}" is not ${DURATION_HINT}`);
    return Number.isNaN(ms) ? dflt : ms;
  };

  // Targets
  let template: string | undefined;
  let urls: string[] | undefined;
  let urlsFile: LoadgenConfig['urlsFile'];
  if (raw.url !== undefined && raw.urlsFile !== undefined) problems.push('--url and --urls-file: give one or the other');
  else if (raw.url === undefined && raw.urlsFile === undefined) problems.push('give --url TEMPLATE (e.g. http://127.0.0.1:8000/test/{i}) or --urls-file PATH');
  if (raw.url !== undefined) {
    const problem = urlProblem(raw.url.replaceAll('{i}', '0'));
    if (problem !== undefined) problems.push(`--url: "${raw.url}": ${problem}`);
    else template = raw.url;
  } else if (raw.urlsFile !== undefined) {
    let text: string | undefined;
    try {
      text = readFileSync(raw.urlsFile, 'utf8');
    } catch (err) {
      problems.push(`--urls-file: cannot read "${raw.urlsFile}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (text !== undefined) {
      const parsed = parseUrlFile(text);
      urlsFile = { path: raw.urlsFile, blank: parsed.blank, comments: parsed.comments, bad: parsed.bad };
      if (parsed.urls.length === 0) problems.push(`--urls-file: "${raw.urlsFile}" has no usable URL (${parsed.bad.length} bad, ${parsed.blank} blank lines)`);
      else urls = parsed.urls.map((u) => u.href);
      if (parsed.bad.length > 0 || parsed.blank > 0) {
        warnings.push(
          `--urls-file: ${parsed.urls.length} URLs, ${parsed.blank} blank lines skipped, ${parsed.bad.length} bad lines skipped` +
            parsed.bad.slice(0, 5).map((b) => `\n  line ${b.line}: ${b.reason}: ${b.text}`).join('') +
            (parsed.bad.length > 5 ? `\n  ... and ${parsed.bad.length - 5} more` : ''),
        );
      }
    }
  }

  const start = int('start', raw.start, 0, 0);
  let count: number;
  if (raw.count === undefined && urls === undefined && template !== undefined) {
    problems.push('--count: how many connections to open is required with --url');
    count = 0;
  } else {
    count = int('count', raw.count, urls?.length ?? 0, 1);
  }

  // Pace: a count with no pace opens at DEFAULT_RATE; only --hold (or --rate 0) waits for POST /ramp.
  let rate = DEFAULT_RATE;
  let rateSource: RateSource = 'default';
  if (raw.rate !== undefined && raw.interval !== undefined) problems.push('--rate and --interval: give one or the other');
  if (raw.rate !== undefined) {
    rateSource = '--rate';
    if (!/^\d+(\.\d+)?$/.test(raw.rate.trim())) problems.push(`--rate: "${raw.rate}" must be connections per second (0: wait for POST /ramp)`);
    else rate = Number(raw.rate);
  } else if (raw.interval !== undefined) {
    rateSource = '--interval';
    const ms = dur('interval', raw.interval, 100);
    if (ms <= 0) problems.push('--interval: must be more than 0 (use --rate 0 or --hold to wait for POST /ramp)');
    else rate = 1000 / ms;
  }
  if (isOn(raw.hold)) {
    rate = 0;
    rateSource = '--hold';
  }
  const pacing = raw.pacing ?? 'closed-loop';
  if (pacing !== 'closed-loop' && pacing !== 'fixed') problems.push(`--pacing: "${raw.pacing}" must be closed-loop or fixed`);
  const paceLatencyMs = dur('pace-latency', raw.paceLatency, POOL_DEFAULTS.paceLatencyMs);
  if (paceLatencyMs <= 0) problems.push('--pace-latency: must be more than 0 (connect latency above which a closed-loop pace slows down)');
  const connectRetries = int('connect-retries', raw.connectRetries, POOL_DEFAULTS.connectRetries, 0, 255);
  const io = (raw.io ?? 'auto') as IoChoice;
  if (io !== 'auto' && !IO_NAMES.includes(io)) problems.push(`--io: "${raw.io}" must be auto, raw or net`);
  const maxConnecting = int('max-connecting', raw.maxConnecting, 1000, 1);
  const connectTimeoutMs = dur('connect-timeout', raw.connectTimeout, 10_000);

  // Addresses and ports
  let sourceAddresses: string[] = [];
  if (raw.sourceIps !== undefined) {
    const parsed = parseSourceAddresses(raw.sourceIps);
    problems.push(...parsed.problems);
    sourceAddresses = parsed.addresses;
  }
  let portRange = ephemeralPortRange();
  if (raw.localPorts !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(raw.localPorts.trim());
    if (!m || Number(m[1]) < 1024 || Number(m[2]) > 65535 || Number(m[1]) > Number(m[2])) {
      problems.push(`--local-ports: "${raw.localPorts}" must be LOW-HIGH within 1024-65535`);
    } else portRange = [Number(m[1]), Number(m[2])];
  }

  // Processes
  let procs = Math.max(1, Math.ceil(count / perProcess));
  if (raw.procs !== undefined && raw.procs !== 'auto') {
    procs = int('procs', raw.procs, procs, 1, 256);
    if (count > 0 && Math.ceil(count / procs) > perProcess) {
      problems.push(`--procs ${procs}: ${Math.ceil(count / procs)} connections per process exceed the open-file limit (${perProcess} per process); use --procs ${Math.ceil(count / perProcess)} or auto`);
    }
  }
  if (count > 0) procs = Math.min(procs, count);
  if (sourceAddresses.length > 0 && sourceAddresses.length < procs) {
    const slice = Math.floor((portRange[1] - portRange[0] + 1) / procs);
    if (slice < 1) problems.push(`--procs ${procs}: the local port range ${portRange.join('-')} is too small to share between ${procs} processes`);
  }
  const rangeSize = portRange[1] - portRange[0] + 1;
  if (template !== undefined && count > rangeSize * Math.max(1, sourceAddresses.length)) {
    warnings.push(
      `${count} connections to one address and port need ${Math.ceil(count / rangeSize)} source addresses ` +
        `(one holds ${rangeSize} ports: ${portRange.join('-')}); give --source-ips (e.g. 127.0.0.2-127.0.0.${1 + Math.ceil(count / rangeSize)})`,
    );
  }

  // Lifetime and control
  const durationSeconds = dur('duration', raw.duration, 300_000) / 1000;
  if (raw.duration !== undefined && durationSeconds <= 0) problems.push('--duration: must be more than 0 (every flood stops by itself)');
  const holdForSeconds = dur('hold-for', raw.holdFor, 0) / 1000;
  // Waiting for POST /ramp needs the control API: a free port unless one is given.
  const controlPort = raw.controlPort === undefined ? (rate === 0 ? 0 : undefined) : int('control-port', raw.controlPort, 0, 0, 65535);
  const token = configuredToken(raw.controlToken, raw.controlTokenFile);
  problems.push(...token.problems);
  const controlHost = raw.controlHost ?? '127.0.0.1';
  // ws:// URLs are WebSocket: the transport follows unless given
  const wsUrls = (template !== undefined && template.startsWith('ws:')) || (urls ?? []).some((u) => u.startsWith('ws:'));
  const transport = (raw.transport ?? (wsUrls ? 'ws' : 'chunked')) as Transport;
  if (!TRANSPORT_NAMES.includes(transport)) problems.push(`--transport: "${raw.transport}" must be ${TRANSPORT_NAMES.join(', ')}`);
  else if (wsUrls && transport !== 'ws') problems.push(`--transport ${transport}: ws:// URLs are WebSocket (use --transport ws, or http:// URLs)`);
  const backoffBaseMs = dur('backoff-base', raw.backoffBase, 100);
  const backoffMaxMs = dur('backoff-max', raw.backoffMax, 30_000);
  const reportEveryMs = dur('report-every', raw.reportEvery, 10_000);
  if (reportEveryMs <= 0) problems.push('--report-every: must be more than 0');

  if (problems.length > 0) return { problems, warnings };
  return {
    problems,
    warnings,
    config: {
      template,
      urls,
      urlsFile,
      count,
      start,
      rate,
      rateSource,
      closedLoop: pacing === 'closed-loop',
      paceLatencyMs,
      connectRetries,
      io,
      controlToken: token.token,
      controlTokenSource: token.source,
      maxConnecting,
      connectTimeoutMs,
      sourceAddresses,
      portRange,
      procs,
      durationSeconds,
      holdForSeconds,
      controlPort,
      controlHost,
      transport,
      reconnect: isOn(raw.reconnect),
      keepOpen: isOn(raw.keepOpen),
      backoffBaseMs,
      backoffMaxMs,
      reportEveryMs,
    },
  };
}
