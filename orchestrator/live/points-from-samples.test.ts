import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvHeader, csvRow } from '../listeners/samples-csv.ts';
import { parseSamplesCsv } from '../report/samples-table.ts';
import type { RunSample } from '../run/sample.ts';
import { livePointsFromSamples } from './points-from-samples.ts';

const MiB = 1024 * 1024;
const sample = (t: number, conns: number, loadgenUp = true): RunSample => ({
  atMs: 1_800_000_000_000 + t * 1000, t, phase: conns < 100 ? 'ramp' : 'hold', target: 100,
  connections: { server: conns, client: loadgenUp ? conns : undefined }, client: undefined, server: undefined,
  components: [
    { name: 'server', role: 'server', up: true, workingSetBytes: 50 * MiB + conns * 6000, kernelSocketBytes: 0, cpuSeconds: t / 10, method: 'cgroup-v1' },
    loadgenUp ? { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MiB + conns * 3000, method: 'cgroup-v1' } : { name: 'loadgen-1', role: 'loadgen', up: false, exited: 'killed' },
  ],
  kernelTcpBytes: 1_000_000 + conns * 4000, tcpInuse: 2 * conns,
});

test('samples.csv rebuilds the live page points: same connections, memory, per-connection figures and dead components', () => {
  const runSamples = [sample(0, 0), sample(1, 50), sample(2, 100), sample(3, 100, false)];
  const names = ['server', 'loadgen-1'];
  const csv = [csvHeader(names), ...runSamples.map((s) => csvRow(s, names))].join('\n') + '\n';
  const points = livePointsFromSamples(parseSamplesCsv(csv));
  assert.deepEqual(points.map((p) => [p.t, p.phase, p.server, p.client]), [
    [1_800_000_000, 'ramp', 0, 0], [1_800_000_001, 'ramp', 50, 50], [1_800_000_002, 'hold', 100, 100], [1_800_000_003, 'hold', 100, null],
  ]);
  assert.equal(points[2]!.mem.server, 50 * MiB + 600_000);
  assert.equal(points[2]!.perConn.server, 6000);
  assert.equal(points[2]!.perConn.loadgen, 3000);
  assert.equal(points[2]!.perConn.kernel, 4000);
  assert.deepEqual(points[3]!.down, { 'loadgen-1': 'down' });
  assert.equal(points[3]!.mem['loadgen-1'], undefined);
});
