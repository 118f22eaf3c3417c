import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvHeader, csvRow } from '../listeners/samples-csv.ts';
import { parseSamplesCsv, runSampleFromRow } from '../report/samples-table.ts';
import type { RunSample } from '../run/sample.ts';
import { noErrors, testSample } from '../run/test-sample.ts';
import { LivePointBuilder } from './live-point.ts';
import { livePointsFromSamples } from './points-from-samples.ts';

const MiB = 1024 * 1024;
const sample = (t: number, conns: number, loadgenUp = true): RunSample => testSample({
  t, phase: conns < 100 ? 'ramp' : 'hold', target: 100,
  connections: { server: conns, client: loadgenUp ? conns : undefined },
  // A load generator that is down answers nothing: no client counters that second.
  client: !loadgenUp ? null : { chunks: conns * t, messages: 2 * t, errors: t, errorsByCause: { ...noErrors(), timeout: t }, latencyMs: { p50: 1.5, p99: 9.25, count: 10 } },
  // The server's idle GC ran once, 1.5 s after the start (seen from the sample at 2 s on).
  server: { chunksSent: conns * t, messagesSent: 2 * t, eventLoopLagMs: 1, deliveryMs: { p50: 0.5, p99: 2, count: 10 }, idleGc: t >= 2 ? { count: 1, lastAtMs: 1_800_000_001_500 } : { count: 0, lastAtMs: 0 } },
  components: [
    { name: 'server', role: 'server', up: true, workingSetBytes: 50 * MiB + conns * 6000, kernelSocketBytes: 0, kernelBytes: 3 * MiB, cpuSeconds: t / 10 },
    loadgenUp ? { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MiB + conns * 3000, cpuSeconds: t / 20 } : { name: 'loadgen-1', role: 'loadgen', up: false, exited: 'down' },
  ],
  kernelTcpBytes: 1_000_000 + conns * 40, kernelSlabBytes: 100 * MiB + conns * 9000,
});

test('samples.csv gives back every field of the samples it was written from', () => {
  const runSamples = [sample(0, 0), sample(1, 50), sample(2, 100), sample(3, 100, false)];
  const names = ['server', 'loadgen-1'];
  const table = parseSamplesCsv([csvHeader(names), ...runSamples.map((s) => csvRow(s, names))].join('\n') + '\n');
  // cpu_s is written with 2 decimals; everything else exactly.
  assert.deepEqual(table.rows.map((r) => runSampleFromRow(r, names)), runSamples.map((s) => ({ ...s, components: s.components.map(({ method: _m, ...c }) => c) })));
});

test('samples.csv rebuilds the live page points: the same figures the live page drew from the samples', () => {
  const runSamples = [sample(0, 0), sample(1, 50), sample(2, 100), sample(3, 100, false)];
  const names = ['server', 'loadgen-1'];
  const csv = [csvHeader(names), ...runSamples.map((s) => csvRow(s, names))].join('\n') + '\n';
  const points = livePointsFromSamples(parseSamplesCsv(csv), { heartbeatSeconds: 1 });
  const live = new LivePointBuilder({ heartbeatSeconds: 1 });
  assert.deepEqual(points, runSamples.map((s) => live.next(s)));
  assert.deepEqual(points.map((p) => [p.t, p.phase, p.server, p.client]), [[0, 'ramp', 0, 0], [1, 'ramp', 50, 50], [2, 'hold', 100, 100], [3, 'hold', 100, null]]);
  assert.equal(points[2]!.mem.server, 50 * MiB + 600_000);
  assert.equal(points[2]!.perConn.server, 6000);
  assert.equal(points[2]!.perConn.loadgen, 3000);
  assert.equal(points[2]!.perConn.kernel, 9000, 'host-wide slab growth per server connection');
  assert.deepEqual(points[2]!.chunks, { received: 150, expected: 100 });
  assert.deepEqual(points[2]!.messages, { sent: 2, received: 2 });
  assert.deepEqual(points[2]!.latency, { p50: 1.5, p99: 9.25, serverP50: 0.5, serverP99: 2 });
  assert.deepEqual(points[2]!.errors, { timeout: 2 });
  assert.equal(points[2]!.cpu.server, 0.1);
  assert.equal(points[1]!.perConn.server, undefined, 'below 100 held: no per-connection figure');
  assert.deepEqual(points.map((p) => p.idleGc), [undefined, undefined, { t: 1.5, count: 1 }, undefined], 'the idle GC marked once, at the time the server gives');
  assert.deepEqual(points[3]!.down, { 'loadgen-1': 'down' });
  assert.equal(points[3]!.mem['loadgen-1'], undefined);
});
