import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvHeader, csvRow } from '../listeners/samples-csv.ts';
import type { RunSample } from '../run/sample.ts';
import { noErrors } from '../run/test-sample.ts';
import type { RunRecord } from './run-record.ts';
import { parseSamplesCsv } from './samples-table.ts';
import { summarize } from './summarize.ts';
import { renderReportMd } from './report-md.ts';

const MIB = 2 ** 20;
const names = ['server', 'loadgen-1', 'loadgen-2'];

/** A synthetic run: server 50 MiB + 4 KiB/conn, each load generator 40 MiB + 1.5 KiB per own connection. */
function sample(t: number, phase: string, conns: number, chunks: number): RunSample {
  const half = conns / 2;
  return {
    atMs: 1_700_000_000_000 + t * 1000, t, phase, target: 10000,
    connections: { server: conns, client: conns },
    client: { connecting: 0, closed: 0, chunks, messages: 0, errors: 0, errorsByCause: noErrors() },
    server: { chunksSent: chunks, messagesSent: 0, eventLoopLagMs: 1 },
    components: [
      { name: 'server', role: 'server', up: true, workingSetBytes: 50 * MIB + 4096 * conns, kernelSocketBytes: 0, kernelBytes: 5 * MIB + 3000 * conns, cpuSeconds: t / 10, method: 'cgroup-v1' },
      { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MIB + 1536 * half, cpuSeconds: t / 20, method: 'cgroup-v1' },
      { name: 'loadgen-2', role: 'loadgen', up: true, workingSetBytes: 40 * MIB + 1536 * half, cpuSeconds: t / 20, method: 'cgroup-v1' },
    ],
    kernelTcpBytes: 1 * MIB + 100 * conns, tcpInuse: 2 * conns, kernelSlabBytes: 200 * MIB + 7600 * conns,
  };
}

function run(): { csv: string; record: RunRecord } {
  const rows = [sample(0, 'up', 0, 0)];
  for (let i = 1; i <= 10; i++) rows.push(sample(i, 'ramp', i * 1000, 0));
  for (let i = 11; i <= 20; i++) rows.push(sample(i, 'hold', 10000, (i - 11) * 10000)); // one chunk a second each
  const csv = [csvHeader(names), ...rows.map((r) => csvRow(r, names))].join('\n');
  const record = {
    plan: { n: 10000, backend: 'local', rampRate: 1000, server: { heartbeatIntervalMs: 1000, workers: 2 }, transport: 'chunked', loadgens: [{ procs: 1 }, { procs: 1 }], expectedMemory: { server: 0, loadgen: 0, kernel: 0 } },
    environment: { kernel: 'k', node: 'v24', cores: 2, cpuModel: 'x', memTotalBytes: 1, nofile: { soft: 1, hard: 1 }, sysctls: {}, cgroup: { v1Memory: true, v1MemoryWritable: true, v2: false, v2Memory: false }, dockerRunning: false },
    outcome: {
      startedAtMs: 1_700_000_000_000, endedAtMs: 1_700_000_021_000, phases: [], interrupted: false, errors: [],
      components: names.map((name) => ({ name, role: name === 'server' ? 'server' : 'loadgen', url: '', method: 'cgroup-v1' })),
      ramp: { target: 10000, reached: 10000, secondsToTarget: 10, seconds: 10, endedBy: 'target', askedRate: 1000 },
      final: { loadgens: { 'loadgen-1': { errors: { refused: 2, reset: 0, timeout: 1 }, chunks: 50000 }, 'loadgen-2': { errors: { refused: 1 }, chunks: 40000 } } },
    },
  } as unknown as RunRecord;
  return { csv, record };
}

test('slopes, totals per connection, kernel memory and chunks come out of samples.csv exactly', () => {
  const { csv, record } = run();
  const s = summarize(parseSamplesCsv(csv), record);
  assert.equal(s.complete, true);
  assert.ok(Math.abs(s.memory.server.fit!.slope - 4096) < 1e-6);
  assert.equal(s.memory.server.fit!.points, 11);
  assert.ok(Math.abs(s.memory.loadgen.fit!.slope - 1536) < 1e-6, 'the two load generators are summed');
  assert.equal(s.memory.server.holdPerConnectionBytes, (50 * MIB + 4096 * 10000) / 10000);
  assert.equal(s.memory.server.holdAboveBaselinePerConnectionBytes, 4096);
  assert.equal(s.memory.server.method, 'cgroup-v1');
  assert.equal(s.kernel.perConnectionBytes, 100);
  assert.equal(s.kernel.slabPerConnectionBytes, 7600);
  assert.equal(s.memory.server.kernelPerConnectionBytes, 3000);
  assert.equal(s.memory.loadgen.kernelPerConnectionBytes, undefined, 'no kmem column for them: absent, not 0');
  assert.equal(s.rampRate, 1000);
  assert.deepEqual({ expected: s.chunks.expected, received: s.chunks.received }, { expected: 90000, received: 90000 });
  assert.equal(s.errors.refused, 3);
  assert.equal(s.errors.timeout, 1);
  assert.equal(s.cpuSeconds.server, 2);
  const md = renderReportMd(s, record);
  assert.match(md, /\| \*\*per connection \(the figure to read\)\*\* \| \*\*4\.00 KiB\*\* \| least-squares slope/);
  assert.match(md, /refused: 3/);
});

test('a run without outcome (killed before the end) or with a failure is marked incomplete', () => {
  const { csv, record } = run();
  assert.equal(summarize(parseSamplesCsv(csv), { ...record, outcome: undefined }).complete, false);
  const failed = { ...record, outcome: { ...record.outcome!, incomplete: 'loadgen-2 died: exit code 1' } };
  const s = summarize(parseSamplesCsv(csv), failed);
  assert.equal(s.complete, false);
  assert.match(renderReportMd(s, failed), /INCOMPLETE\*\*: loadgen-2 died/);
});

test('empty cells stay absent, not zero', () => {
  const { record } = run();
  const r = sample(1, 'ramp', 100, 0);
  r.components[0] = { name: 'server', role: 'server', up: false, exited: 'exit code 1' };
  const table = parseSamplesCsv([csvHeader(names), csvRow(r, names)].join('\n'));
  assert.equal(table.rows[0]!.values.get('server_ws_bytes'), undefined);
  assert.equal(table.rows[0]!.values.get('server_up'), 0);
  assert.equal(summarize(table, record).memory.server.fit, undefined);
});

test('a complete run that never held N says the target was missed, in the summary and the report', () => {
  const { csv, record } = run();
  const reached = summarize(parseSamplesCsv(csv), record);
  assert.equal(reached.targetReached, true);
  assert.doesNotMatch(renderReportMd(reached, record), /TARGET MISSED/);
  const bigger = { ...record, plan: { ...record.plan, n: 12000 } } as RunRecord;
  const missed = summarize(parseSamplesCsv(csv), bigger);
  assert.equal(missed.complete, true);
  assert.equal(missed.targetReached, false);
  assert.match(renderReportMd(missed, bigger), /TARGET MISSED\*\*: 10,000 of 12,000/);
});
