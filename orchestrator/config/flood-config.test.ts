import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { DEFAULTS, resolveFloodConfig } from './flood-config.ts';
import { parseDurationSeconds } from './duration.ts';
import { LabError } from '../../shared/errors.ts';
import { main } from '../cli.ts';

test('defaults, then env, then flags', () => {
  const env = { LAB_RATE: '500', LAB_HOLD: '1m', LAB_BACKEND: 'local' };
  const cfg = resolveFloodConfig({ n: '1_000', rate: '700' }, env, false);
  assert.equal(cfg.n, 1000);
  assert.equal(cfg.rate, 700, 'flag beats env');
  assert.equal(cfg.holdSeconds, 60, 'env beats default');
  assert.equal(cfg.backend, 'local');
  assert.equal(cfg.intervalSeconds, DEFAULTS.intervalSeconds);
});

test('every problem is reported at once, as a usage error (exit 2)', () => {
  try {
    resolveFloodConfig({ n: '0', backend: 'k8s', rate: '0', holdSeconds: 'soon', transport: 'pigeon' }, {}, false);
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof LabError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message.split('\n').length, 5, err.message);
  }
});

test('--transport ws (or LAB_TRANSPORT=ws) is WebSocket', () => {
  assert.equal(resolveFloodConfig({ n: '10', transport: 'ws' }, {}, false).transport, 'ws');
  assert.equal(resolveFloodConfig({ n: '10' }, { LAB_TRANSPORT: 'ws' }, false).transport, 'ws');
  assert.throws(() => resolveFloodConfig({ n: '10', transport: 'wss' }, {}, false), /--transport must be one of chunked, sse, poll, ws/);
});

test('--sends-connections: 64 by default (room for >= 20,000 sends/s), a flag sets it, nonsense is a usage error', () => {
  assert.equal(resolveFloodConfig({ n: '10' }, {}, false).sendsConnections, 64);
  assert.equal(resolveFloodConfig({ n: '10', sendsConnections: '128' }, {}, false).sendsConnections, 128);
  assert.throws(() => resolveFloodConfig({ n: '10', sendsConnections: '0' }, {}, false), /--sends-connections must be an integer from 1/);
});

test('durations: units and bare seconds', () => {
  assert.equal(parseDurationSeconds('500ms'), 0.5);
  assert.equal(parseDurationSeconds('2m'), 120);
  assert.equal(parseDurationSeconds('45'), 45);
  assert.ok(Number.isNaN(parseDurationSeconds('ten')));
});

test('the plan command prints the plan and starts nothing; a refused plan exits 3', async () => {
  const capture = () => {
    const s = new PassThrough();
    let text = '';
    s.on('data', (d) => (text += d));
    return { s, text: () => text };
  };
  const out = capture();
  const code = await main(['plan', '--n', '100000', '--backend', 'local'], { stdout: out.s, stderr: new PassThrough().resume(), env: {} });
  assert.equal(code, 0);
  assert.match(out.text(), /server: 6 workers/);
  // How many load generators depends on the host's ephemeral port range (4 of 25,000 untuned, fewer once tuned).
  assert.match(out.text(), /loadgen-1: \d+ connections \(ids 0\.\./);
  const refused = capture();
  assert.equal(await main(['plan', '--n', '50000', '--workers', '1', '--backend', 'local'], { stdout: refused.s, stderr: new PassThrough().resume(), env: {} }), 3);
  assert.match(refused.text(), /REFUSED: 1 server workers cannot hold 50000/);
});

test('flood refuses a plan the host cannot run: exit 3, nothing started, no report folder', async () => {
  const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const out = mkdtempSync(join(tmpdir(), 'comet-lab-refuse-'));
  try {
    let err = '';
    const stderr = new PassThrough();
    stderr.on('data', (d) => (err += d));
    const code = await main(['flood', '--backend', 'local', '--n', '50000', '--workers', '1', '--out', out, '--no-live', '--no-metrics'], { stdout: new PassThrough().resume(), stderr, env: {} });
    assert.equal(code, 3);
    assert.match(err, /LAB_ERR_PLAN_REFUSED[\s\S]*1 server workers cannot hold 50000[\s\S]*--force/);
    assert.deepEqual(readdirSync(out), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
