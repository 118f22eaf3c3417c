import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlan } from './format-plan.ts';
import { makePlan, type PlanRequest, type PlannerHost } from './planner.ts';

const host: PlannerHost = {
  connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 22 * 2 ** 30, cores: 2,
};
const req = (backend: 'local' | 'docker', n = 30000): PlanRequest => ({
  n, backend, engine: '', transport: 'chunked', rate: 2000, holdSeconds: 30, intervalSeconds: 10, serverPort: 8000,
});

test('a local plan prints the loopback layout', () => {
  const text = formatPlan(makePlan(req('local'), host));
  assert.match(text, /loadgen-1\.\.loadgen-2: 2 x 15,000 connections \(ids 0\.\.29,999\), 1 procs each -> 127\.0\.0\.1\.\.127\.0\.0\.2 from 127\.0\.1\.1\.\.127\.0\.1\.2/);
});

test('a docker plan prints the containers\' layout (server on the lab subnet), not the loopback one', () => {
  const text = formatPlan(makePlan(req('docker'), host));
  assert.match(text, /docker backend/);
  assert.match(text, /-> 172\.28\.0\.10/);
  assert.doesNotMatch(text, /-> 127\.0\.0\./);
});

test('identical load generators are one line: 1,000,000 and 5,000,000 print a few lines, not one per load generator', () => {
  for (const n of [1_000_000, 5_000_000]) {
    const plan = makePlan(req('local', n), host);
    const lines = formatPlan(plan).split('\n').filter((l) => /^ {4}loadgen-/.test(l));
    assert.ok(plan.loadgens.length >= 40, `${plan.loadgens.length} load generators at ${n}`);
    assert.ok(lines.length <= 3, `${n}: ${lines.join('\n')}`);
    // The lines still account for every load generator and every connection.
    const counted = lines.reduce((a, l) => a + Number(/(\d+) x /.exec(l)?.[1] ?? 1), 0);
    assert.equal(counted, plan.loadgens.length);
    assert.match(lines.at(-1)!, new RegExp(`ids [\\d,]+\\.\\.${(n - 1).toLocaleString('en-US')}\\)`));
  }
});
