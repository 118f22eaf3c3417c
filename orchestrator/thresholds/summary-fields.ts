/**
 * Which fields a threshold may name: every numeric field of summary.json. Known before any run by summarizing a
 * small synthetic run that has every phase (ramp, hold, sends, broadcast) through the report's own code (samples.csv
 * written and read back, summarize()), so the list follows whatever summarize() computes, with no second copy of
 * the schema to keep in step. Keys that are component names (`loadgen-1`) stand for any load generator.
 */
import { ERROR_CAUSES } from '../../shared/contracts.ts';
import { csvHeader, csvRow } from '../listeners/samples-csv.ts';
import type { RunRecord } from '../report/run-record.ts';
import { parseSamplesCsv } from '../report/samples-table.ts';
import { summarize } from '../report/summarize.ts';
import type { RunSample } from '../run/sample.ts';
import { parseThreshold } from './threshold.ts';

const NAMES = ['server', 'loadgen-1'];
const LATENCY = { count: 10, p50: 1, p90: 2, p99: 3, max: 4 };

function sample(t: number, phase: string, conns: number): RunSample {
  return {
    atMs: 1_700_000_000_000 + t * 1000, t, phase, target: 100,
    connections: { server: conns, client: conns, serverReported: conns },
    serverCount: { method: 'sock_diag (ss)', ageMs: 0 },
    client: { connecting: 0, closed: 0, chunks: t * conns, messages: 0, errors: 0 },
    server: { chunksSent: t * conns, messagesSent: 0, eventLoopLagMs: 1 },
    components: NAMES.map((name, i) => ({
      name, role: i === 0 ? 'server' : 'loadgen', up: true, workingSetBytes: 1e7 + 5000 * conns + t, kernelSocketBytes: 0,
      kernelBytes: 1e6 + 3000 * conns + t, cpuSeconds: t / 10, method: 'cgroup-v1',
    })),
    kernelTcpBytes: 1000 + conns, tcpInuse: 2 * conns, kernelSlabBytes: 1e8 + 7000 * conns + t,
  } as RunSample;
}

function exampleRecord(): RunRecord {
  const loadgen = { errors: Object.fromEntries(ERROR_CAUSES.map((c) => [c, 0])), chunks: 1, latencyMs: LATENCY };
  return {
    config: { thresholds: [] },
    plan: { n: 100, backend: 'local', rampRate: 100, server: { heartbeatIntervalMs: 1000, workers: 1 }, transport: 'chunked', loadgens: [{ procs: 1 }], expectedMemory: { server: 0, loadgen: 0, kernel: 0 } },
    environment: {},
    outcome: {
      startedAtMs: 1_700_000_000_000, endedAtMs: 1_700_000_010_000, phases: [], interrupted: false, errors: [], serverCount: 'kernel: sock_diag (ss)',
      components: NAMES.map((name, i) => ({ name, role: i === 0 ? 'server' : 'loadgen', url: '', method: 'cgroup-v1' })),
      ramp: { target: 100, reached: 100, secondsToTarget: 3, seconds: 3, endedBy: 'target', askedRate: 100 },
      sends: {
        askedRate: 10, connections: 1, seconds: 1, requests: 10, accepted: 10, notFound: 0, non2xx: 0, errors: 0, timeouts: 0, idsFromPlan: 0,
        sustainedRate: 10, requestLatencyMs: { p50: 1, p90: 1, p99: 1, max: 1 }, deliveryMs: { 'loadgen-1': LATENCY }, messagesReceived: 10,
      },
      broadcast: { publishedAtMs: 1, expected: 100, serverDelivered: 100, answerTimeoutMs: 1, received: 100, complete: true, fanOutMs: 1, deliveryMs: { 'loadgen-1': LATENCY } },
      final: { server: { chunksSent: 1 }, loadgens: { 'loadgen-1': loadgen } },
    },
  } as unknown as RunRecord;
}

/** Dotted paths to every number in `obj`, component names generalised (`loadgen-1` -> `loadgen-N`). */
function numericPaths(obj: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (typeof obj === 'number') out.add(prefix);
  else if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) numericPaths(v, prefix ? `${prefix}.${generalise(k)}` : generalise(k), out);
  }
  return out;
}

const generalise = (key: string) => key.replace(/^loadgen-\d+$/, 'loadgen-N');

let known: Set<string> | undefined;

/** Every field a threshold may name, sorted. */
export function thresholdFields(): string[] {
  if (!known) {
    const rows = [sample(0, 'up', 0), ...[1, 2, 3].map((t) => sample(t, 'ramp', t * 33)), ...[4, 5, 6, 7].map((t) => sample(t, 'hold', 100))];
    const table = parseSamplesCsv([csvHeader(NAMES), ...rows.map((r) => csvRow(r, NAMES))].join('\n'));
    known = numericPaths(summarize(table, exampleRecord()));
  }
  return [...known].sort();
}

/** The close matches of a field that is not known, for the hint. */
function nearest(field: string, fields: string[]): string[] {
  const last = field.split('.').at(-1)!.toLowerCase();
  const head = field.split('.')[0]!;
  return fields.filter((f) => f.toLowerCase().endsWith(`.${last}`) || f.toLowerCase() === last || f.startsWith(`${head}.`)).slice(0, 8);
}

/** Every problem with a list of thresholds: those that do not parse, and those naming no numeric summary field. */
export function thresholdProblems(texts: string[]): string[] {
  const problems: string[] = [];
  for (const text of texts) {
    const t = parseThreshold(text);
    if (typeof t === 'string') {
      problems.push(t);
      continue;
    }
    const fields = thresholdFields();
    if (!fields.includes(t.field.split('.').map(generalise).join('.'))) {
      const near = nearest(t.field, fields);
      problems.push(`--threshold '${text}': summary.json has no numeric field '${t.field}'${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; the fields are listed in README (Thresholds)`);
    }
  }
  return problems;
}
