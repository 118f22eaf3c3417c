import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlan } from './format-plan.ts';
import { makePlan, type PlanRequest, type PlannerHost } from './planner.ts';

const host: PlannerHost = {
  connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 22 * 2 ** 30, cores: 2,
};
const req = (backend: 'local' | 'docker'): PlanRequest => ({
  n: 30000, backend, engine: '', transport: 'chunked', rate: 2000, holdSeconds: 30, intervalSeconds: 10, serverPort: 8000,
});

test('a local plan prints the loopback layout', () => {
  const text = formatPlan(makePlan(req('local'), host));
  assert.match(text, /-> 127\.0\.0\.1 from 127\.0\.1\.1/);
});

test('a docker plan prints the containers\' layout (server on the lab subnet), not the loopback one', () => {
  const text = formatPlan(makePlan(req('docker'), host));
  assert.match(text, /docker backend/);
  assert.match(text, /-> 172\.28\.0\.10/);
  assert.doesNotMatch(text, /-> 127\.0\.0\./);
});
