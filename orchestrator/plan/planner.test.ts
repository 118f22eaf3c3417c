import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNECTION_COSTS } from '../../kernel/costs.ts';
import { loopbackAddress, makePlan, PLANNING, rateShares, split, type PlanRequest, type PlannerHost } from './planner.ts';

const host: PlannerHost = {
  connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 22 * 2 ** 30, cores: 2,
};
const req = (over: Partial<PlanRequest> = {}): PlanRequest => ({
  n: 100000, backend: 'local', engine: '', transport: 'chunked', rate: 2000, holdSeconds: 30, intervalSeconds: 10,
  serverPort: 8000, ...over,
});

test('100k on this host: workers and load-generator processes stay under the file limit with headroom', () => {
  const plan = makePlan(req(), host);
  // 19800 connections per process; a worker is filled to 90% = 17820 -> 6 workers for 100k.
  assert.equal(plan.server.workers, 6);
  assert.ok(plan.n / plan.server.workers <= host.connectionsPerProcess * PLANNING.serverFill);
  // 28232 ports in range, 90% = 25408 per destination address -> 4 load generators of 25000 each.
  assert.equal(plan.portsPerAddress, 25408);
  assert.equal(plan.loadgens.length, 4);
  assert.deepEqual(plan.loadgens.map((l) => l.connections), [25000, 25000, 25000, 25000]);
  for (const lg of plan.loadgens) assert.ok(lg.connections / lg.procs <= host.connectionsPerProcess, lg.name);
  assert.deepEqual(plan.loadgens.map((l) => l.targets[0]!.host), ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
  assert.deepEqual(plan.loadgens.map((l) => l.sourceAddresses), [['127.0.1.1'], ['127.0.1.2'], ['127.0.1.3'], ['127.0.1.4']]);
  assert.deepEqual(plan.loadgens.map((l) => l.startIndex), [0, 25000, 50000, 75000]);
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(rateShares(plan), [500, 500, 500, 500]);
});

test('small N with explicit workers and processes uses exactly those', () => {
  const plan = makePlan(req({ n: 2000, workers: 2, loadgenProcs: 2 }), host);
  assert.equal(plan.server.workers, 2);
  assert.equal(plan.loadgens.length, 1);
  assert.equal(plan.loadgens[0]!.procs, 2);
  assert.equal(plan.loadgens[0]!.connections, 2000);
  assert.deepEqual(plan.refusals, []);
});

test('too few workers or processes for N is refused with the number needed', () => {
  const plan = makePlan(req({ n: 50000, workers: 1, loadgenProcs: 1 }), host);
  assert.equal(plan.refusals.length, 2);
  assert.match(plan.refusals[0]!, /server workers .* need 3/);
  assert.match(plan.refusals[1]!, /load-generator processes .* need 3/);
});

test('expected memory grows linearly; the planner adds no memory verdict of its own (assessCapacity\'s is the one)', () => {
  const a = makePlan(req({ n: 100000 }), host);
  const b = makePlan(req({ n: 200000 }), host);
  const perConn = CONNECTION_COSTS.serverBytes;
  assert.ok(b.expectedMemory.server - a.expectedMemory.server >= 100000 * perConn);
  const small = makePlan(req({ n: 100000 }), { ...host, memAvailableBytes: 512 * 2 ** 20 });
  assert.deepEqual(small.refusals, []);
  const refused = makePlan(req({ n: 100000 }), { ...host, capacityProblems: ['memory available (512 MiB): 100,000 need 1.6 GiB'] });
  assert.deepEqual(refused.refusals, ['memory available (512 MiB): 100,000 need 1.6 GiB']);
});

test('a server port inside the ephemeral range and the kernel assessment\'s problems are refusals', () => {
  const plan = makePlan(req({ serverPort: 40000 }), { ...host, capacityProblems: ['fs.file-max too low'] });
  assert.equal(plan.refusals.length, 2, plan.refusals.join('\n'));
  assert.equal(plan.refusals[0], 'fs.file-max too low');
});

test('a short hold warns that fewer than two heartbeats flow', () => {
  const plan = makePlan(req({ holdSeconds: 5, intervalSeconds: 10 }), host);
  assert.ok(plan.warnings.some((w) => /two heartbeat/.test(w)));
});

test('helpers: split is even, loopback addresses roll over octets', () => {
  assert.deepEqual(split(10, 3), [4, 3, 3]);
  assert.equal(split(7, 7).reduce((a, b) => a + b), 7);
  assert.equal(loopbackAddress(0), '127.0.0.1');
  assert.equal(loopbackAddress(255), '127.0.1.0');
});
