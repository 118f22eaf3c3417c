import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('the default host is loopback; beyond loopback only with an admin token (LAB_ERR_OPEN_API, exit 2)', () => {
  assert.deepEqual(resolveConfig({}, {}).hosts, ['127.0.0.1']);
  for (const host of ['127.0.0.2', '::1', '127.0.0.1,::1']) assert.ok(resolveConfig({ host }, {}).hosts.length > 0, host);
  for (const [flags, env] of [[{ host: '0.0.0.0' }, {}], [{}, { COMET_HOST: '::' }], [{ host: '127.0.0.1,10.1.2.3' }, {}]] as const) {
    const err = (() => {
      try {
        resolveConfig(flags, env);
      } catch (e) {
        return e;
      }
      return assert.fail(`${JSON.stringify(flags)} ${JSON.stringify(env)} must be refused`);
    })();
    assert.ok(err instanceof LabError);
    assert.equal(err.code, 'LAB_ERR_OPEN_API');
    assert.equal(err.exitCode, 2);
    assert.doesNotMatch(err.message, /127\.0\.0\.1/, 'names only the open addresses');
    assert.match(err.hint ?? '', /COMET_ADMIN_TOKEN/);
  }
  assert.deepEqual(resolveConfig({ host: '0.0.0.0' }, { COMET_ADMIN_TOKEN: 't' }).hosts, ['0.0.0.0']);
  // with other problems: one usage error listing them all, this one too
  assert.throws(() => resolveConfig({ host: '0.0.0.0', port: 'x' }, {}), (e: LabError) => e.code === 'LAB_ERR_USAGE' && /--port/.test(e.message) && /beyond loopback/.test(e.message));
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

test('hosts, token file, API limits and --exit-with-parent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'comet-lab-config-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, '  s3cret-from-file\n');
    const o = resolveConfig(
      { host: '127.0.0.2, 127.0.0.3,127.0.0.2', adminTokenFile: file, maxApiConnections: '64', apiIdleTimeout: '2s', gcMinInterval: '0', exitWithParent: true },
      {},
    );
    assert.deepEqual(o.hosts, ['127.0.0.2', '127.0.0.3']);
    assert.equal(o.adminToken, 's3cret-from-file');
    assert.equal(o.maxApiConnections, 64);
    assert.equal(o.apiIdleTimeoutMs, 2000);
    assert.equal(o.gcMinIntervalMs, 0);
    assert.equal(o.exitWithParent, true);
    assert.equal(resolveConfig({}, { COMET_EXIT_WITH_PARENT: '1', COMET_ADMIN_TOKEN_FILE: file }).adminToken, 's3cret-from-file');
    assert.equal(resolveConfig({}, { COMET_ADMIN_TOKEN_FILE: '' }).adminToken, undefined, 'an empty variable is unset');
    writeFileSync(join(dir, 'empty'), '\n');
    try {
      resolveConfig({ host: 'localhost', adminTokenFile: join(dir, 'empty'), maxApiConnections: '10' }, { COMET_ADMIN_TOKEN: 'other' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof LabError);
      assert.match(err.message, /--host "localhost": localhost: not an IP address/);
      assert.match(err.message, /--admin-token-file .*: it is empty/);
      assert.match(err.message, /--max-api-connections "10": must be a number above 32/);
    }
    assert.throws(() => resolveConfig({ adminTokenFile: file }, { COMET_ADMIN_TOKEN: 'other' }), /disagree/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
