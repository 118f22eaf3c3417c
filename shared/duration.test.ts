import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs } from './duration.ts';
import { resolveConfig } from '../server/config.ts';
import { buildConfig } from '../loadgen/config.ts';
import { resolveFloodConfig } from '../orchestrator/config/flood-config.ts';

test('durations with a unit, and bare numbers as seconds', () => {
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('10s'), 10_000);
  assert.equal(parseDurationMs(' 2m '), 120_000);
  assert.equal(parseDurationMs('1h'), 3_600_000);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('30'), 30_000);
  for (const bad of ['', 'ten', '-5s', '5 s', '5d', '1e3']) assert.ok(Number.isNaN(parseDurationMs(bad)), bad);
});

test('a bare number means the same in every CLI: server, load generator and orchestrator read --interval 10 as 10 s', () => {
  assert.equal(resolveConfig({ interval: '10' }, {}).intervalMs, 10_000);
  assert.equal(resolveConfig({}, { COMET_INTERVAL: '10' }).intervalMs, 10_000);
  assert.equal(resolveFloodConfig({ n: '10', intervalSeconds: '10' }, {}, false).intervalSeconds, 10);
  // the load generator's --interval is its pace: one connection every 2 s is half a connection per second
  const lg = buildConfig({ url: 'http://127.0.0.1:8000/test/{i}', count: '5', interval: '2' });
  assert.deepEqual(lg.problems, []);
  assert.equal(lg.config!.rate, 0.5);
  assert.equal(buildConfig({ url: 'http://127.0.0.1:8000/test/{i}', count: '5', connectTimeout: '3' }).config!.connectTimeoutMs, 3000);
});
