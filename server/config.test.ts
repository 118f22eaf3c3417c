import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LabError } from '../shared/errors.ts';
import { DEFAULTS, parseDuration, resolveConfig, resolveWorkers } from './config.ts';

test('durations: a unit, or bare seconds', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('15'), 15_000); // bare numbers are seconds, as in every lab CLI
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('10000ms'), 10_000);
  assert.ok(Number.isNaN(parseDuration('ten')));
});

test('defaults, then env, then flags', () => {
  assert.deepEqual(resolveConfig({}, {}), DEFAULTS);
  const o = resolveConfig({ port: '9000' }, { COMET_PORT: '7000', COMET_ENGINE: 'net', COMET_ADMIN_TOKEN: 't' });
  assert.equal(o.port, 9000);
  assert.equal(o.engine, 'net');
  assert.equal(o.adminToken, 't');
});

test('every problem is reported at once', () => {
  try {
    resolveConfig({ port: '70000', workers: 'many', engine: 'fast', interval: 'soon' }, {});
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof LabError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message.split('\n').length, 4, err.message);
  }
});

test('workers auto: at least the cores, more when the ceiling needs more file descriptors', () => {
  assert.ok(resolveWorkers({ ...DEFAULTS, maxConnections: 10 }) >= 1);
  assert.ok(resolveWorkers({ ...DEFAULTS, maxConnections: 1_000_000 }) >= 50);
  assert.equal(resolveWorkers({ ...DEFAULTS, workers: 3 }), 3);
});

test('the CLI exits 2 on bad flags, with the message and no stack', () => {
  const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const r = spawnSync(process.execPath, [cli, '--port', 'x', '--engine', 'nope'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port "x"/);
  assert.match(r.stderr, /--engine "nope"/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
  const u = spawnSync(process.execPath, [cli, '--no-such-flag'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(u.status, 2);
});
