// summary.json's schema is the TypeBox definition in summary-schema.ts; these check that the file other tools read
// is that schema, that what summarize() makes conforms, and that the schema refuses what it promises to refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { csvHeader, csvRow } from '../listeners/samples-csv.ts';
import { noErrors, testSample } from '../run/test-sample.ts';
import type { RunRecord } from './run-record.ts';
import { parseSamplesCsv } from './samples-table.ts';
import { summarize } from './summarize.ts';
import { summaryDocument, summaryProblems } from './summary-document.ts';
import { SummarySchema } from './summary-schema.ts';

const MIB = 2 ** 20;
const names = ['server', 'loadgen-1'];

/** A run whose memory follows its connections (`noisy`: the server's does not, as on a busy host). */
function run(options: { noisy?: boolean; transport?: string; kernelTcpFalls?: boolean; degraded?: string[] } = {}) {
  const rows = [];
  for (let t = 0; t <= 20; t++) {
    const conns = Math.min(10_000, t * 1000);
    const phase = t === 0 ? 'up' : t <= 10 ? 'ramp' : 'hold';
    const serverWs = options.noisy ? 60 * MIB + ((t * 7919) % 13) * MIB : 50 * MIB + 4096 * conns;
    rows.push(testSample({
      t, phase, target: 10_000, conns,
      client: { chunks: t > 10 ? (t - 11) * 10_000 : 0, errorsByCause: noErrors() },
      components: [
        { name: 'server', role: 'server', up: true, workingSetBytes: serverWs, kernelSocketBytes: 0, kernelBytes: 5 * MIB + 3000 * conns, cpuSeconds: t / 10 },
        { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MIB + 3000 * conns, kernelSocketBytes: 0, cpuSeconds: t / 20 },
      ],
      kernelTcpBytes: options.kernelTcpFalls ? 2 * MIB - 100 * conns : 1 * MIB + 10 * conns,
      kernelSlabBytes: 200 * MIB + 7600 * conns,
    }));
  }
  const table = parseSamplesCsv([csvHeader(names), ...rows.map((r) => csvRow(r, names))].join('\n'));
  const record = {
    config: {},
    plan: { n: 10_000, backend: 'local', rampRate: 1000, transport: options.transport ?? 'chunked', server: { heartbeatIntervalMs: 1000, workers: 1, engine: '' }, loadgens: [{ procs: 1 }] },
    environment: {},
    outcome: {
      startedAtMs: 1_800_000_000_000, endedAtMs: 1_800_000_021_000, phases: [], interrupted: false, errors: [],
      ...(options.degraded ? { degraded: options.degraded } : {}),
      components: names.map((name) => ({ name, role: name === 'server' ? 'server' : 'loadgen', url: '', method: 'cgroup-v1' })),
      ramp: { target: 10_000, reached: 10_000, secondsToTarget: 10, seconds: 10, endedBy: 'target', askedRate: 1000 },
      final: { loadgens: { 'loadgen-1': { errors: { ...noErrors(), refused: 2 }, chunks: 90_000 } } },
    },
  } as unknown as RunRecord;
  return summaryDocument(summarize(table, record), record);
}

test('summary.schema.json is the schema summary-schema.ts defines (regenerate it after editing the schema)', () => {
  const file = JSON.parse(readFileSync(new URL('./summary.schema.json', import.meta.url), 'utf8'));
  assert.deepEqual(file, JSON.parse(JSON.stringify(SummarySchema)));
  assert.equal(file.properties.version.const, 1);
});

test('a run summarised conforms: versioned, the headline per connection with its method, every figure non-negative', () => {
  const doc = run();
  assert.deepEqual(summaryProblems(doc), []);
  assert.equal(doc.schema, 'comet-lab/summary');
  assert.equal(doc.version, 1);
  assert.equal(doc.run.verdict, 'passed');
  assert.equal(doc.server.perConnectionMethod, 'ramp-slope');
  assert.ok(Math.abs(doc.server.kibPerConnection! - 4) < 1e-9, `${doc.server.kibPerConnection}`);
  assert.equal(doc.server.fit!.reliable, true);
  assert.equal(doc.chunks.deliveredPct, 100);
  assert.equal(doc.errors.total, 2);
  // Socket buffers charged to a cgroup read 0 all run long (cgroup v1 here): not a measurement, so absent.
  assert.equal(doc.server.socketBuffersBytes, undefined);
});

test('an unreliable fit is not the headline: the growth over the base is, and the document says why', () => {
  const doc = run({ noisy: true });
  assert.deepEqual(summaryProblems(doc), []);
  assert.equal(doc.server.fit!.reliable, false);
  assert.ok(doc.server.fit!.r2 < 0.9);
  assert.notEqual(doc.server.perConnectionMethod, 'ramp-slope');
  assert.match(doc.server.perConnectionHow!, /because the ramp's fit (is unreliable|has a slope)/);
  assert.equal(doc.loadgen.perConnectionMethod, 'ramp-slope', 'the other side keeps its reliable slope');
});

test('figures that would be negative are left out, not written as negatives or zeros', () => {
  const doc = run({ kernelTcpFalls: true });
  assert.deepEqual(summaryProblems(doc), []);
  assert.equal(doc.kernel.socketBuffersBytesAtHold! > 0, true);
  const numbers: number[] = [];
  JSON.stringify(doc, (_k, v) => (typeof v === 'number' && numbers.push(v), v));
  assert.ok(numbers.every((n) => n >= 0 && Number.isFinite(n)));
});

test('a run that reached its end but lost a worker is degraded, with why', () => {
  const doc = run({ degraded: ['server worker 2 died (SIGKILL) with 5,019 streams'] });
  assert.deepEqual(summaryProblems(doc), []);
  assert.equal(doc.run.verdict, 'degraded');
  assert.match(doc.run.verdictText, /worker 2 died/);
  assert.deepEqual(doc.run.degraded, ['server worker 2 died (SIGKILL) with 5,019 streams']);
});

test('long-poll: no expected heartbeat chunks (its streams get none), said in the document', () => {
  const doc = run({ transport: 'poll' });
  assert.deepEqual(summaryProblems(doc), []);
  assert.equal(doc.chunks.applies, false);
  assert.equal(doc.chunks.expected, undefined);
  assert.match(doc.chunks.note!, /long-poll/);
});

test('the schema refuses a negative, a placeholder, an unknown field and a missing version', () => {
  const doc = run();
  const bad = (mutate: (d: any) => void) => {
    const d = structuredClone(doc) as any;
    mutate(d);
    return summaryProblems(d);
  };
  assert.ok(bad((d) => (d.kernel.slabPerConnectionBytes = -97.87)).some((p) => p.startsWith('/kernel/slabPerConnectionBytes')));
  assert.ok(bad((d) => (d.server.kibPerConnection = 'n/a')).length > 0);
  assert.ok(bad((d) => (d.server.kibPerConnection = Number.NaN)).length > 0);
  assert.ok(bad((d) => (d.chunks.somethingNew = 1)).length > 0, 'a field the schema does not declare');
  assert.ok(bad((d) => delete d.version).length > 0);
  assert.ok(bad((d) => (d.run.startedAt = 'yesterday')).length > 0);
});
