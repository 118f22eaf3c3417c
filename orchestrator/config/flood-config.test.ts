import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
  assert.match(out.text(), /loadgen-1(\.\.loadgen-\d+: \d+ x)?:? [\d,]+ connections \(ids 0\.\./);
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

test('a backend that cannot run the target is refused before anything starts: exit 2, LAB_ERR_USAGE, no report folder, no process', async () => {
  const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { flood } = await import('../flood.ts');
  const { makeTarget } = await import('../targets/targets.ts');
  const out = mkdtempSync(join(tmpdir(), 'comet-lab-backend-target-'));
  const children = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
    } catch {
      return false;
    }
  });
  const cli = async (args: string[]) => {
    let err = '';
    const stderr = new PassThrough();
    stderr.on('data', (d) => (err += d));
    const code = await main([...args, '--n', '200', '--out', out, '--no-live', '--no-metrics'], { stdout: new PassThrough().resume(), stderr, env: {} });
    return { code, err };
  };
  try {
    // The swarm backend runs comet-lab's own server whatever the target: every other target is refused there.
    const others = ['nchan', 'nginx-idle', 'mochiweb', 'cmd:node srv.js {port}', 'url:http://127.0.0.1:1/test/{i}', 'image:my-server:1'];
    for (const target of others) {
      const r = await cli(['flood', '--backend', 'swarm', '--target', target]);
      assert.equal(r.code, 2, `${target} on swarm: ${r.err}`);
      assert.match(r.err, /LAB_ERR_USAGE/);
      assert.ok(r.err.includes(`--target ${target} runs on the `) && r.err.includes('not --backend swarm') && r.err.includes("comet-lab's own server"), r.err);
    }
    for (const target of others.slice(0, 5)) {
      const r = await cli(['flood', '--backend', 'docker', '--target', target]);
      assert.equal(r.code, 2, `${target} on docker: ${r.err}`);
      assert.ok(r.err.includes(`--target ${target} runs on the local backend`) && r.err.includes('not --backend docker'), r.err);
    }
    const image = await cli(['flood', '--backend', 'local', '--target', 'image:my-server:1']);
    assert.equal(image.code, 2);
    assert.match(image.err, /--target image:my-server:1 runs on the docker backend \(.*make lab-up.*\), not --backend local/);
    // plan refuses it the same way; comet-lab runs on all three.
    assert.equal((await cli(['plan', '--backend', 'swarm', '--target', 'nchan'])).code, 2);
    assert.doesNotThrow(() => resolveFloodConfig({ n: '10', backend: 'swarm', target: 'comet-lab' }, {}, false));
    // A caller that hands flood() its own target (compare does) meets the same refusal, before any backend starts.
    const config = resolveFloodConfig({ n: '200', backend: 'swarm', out, livePort: false, metricsPort: false }, {}, false);
    await assert.rejects(flood(config, { stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} }, { target: makeTarget('nchan') }),
      (e: LabError) => e.code === 'LAB_ERR_USAGE' && e.exitCode === 2 && /--target nchan runs on the local backend .*not --backend swarm/.test(e.message));
    assert.deepEqual(readdirSync(out), [], 'no report folder');
    assert.deepEqual(children(), [], 'no process started');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
