/**
 * How a flood ends, as a CI job sees it, against real processes: a run that holds fewer than N exits 4 and its
 * report says TARGET MISSED; a second flood while one runs refuses at once (exit 3, LAB_ERR_BUSY) and starts
 * nothing; a lock left by a killed orchestrator is taken over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EXIT } from '../shared/errors.ts';
import { resolveFloodConfig } from './config/flood-config.ts';
import { flood, REPO_ROOT } from './flood.ts';
import { processStartTicks } from './run/flood-lock.ts';

const out = mkdtempSync(join(tmpdir(), 'comet-lab-exit-'));
const LOCK = join(out, 'flood.lock');
test.after(() => rmSync(out, { recursive: true, force: true }));
const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: { LAB_FLOOD_LOCK: LOCK } as NodeJS.ProcessEnv });

// A server that holds at most 500 streams and hangs up on the rest at once: a flood of 1,000 can only miss.
const CAPPED = join(out, 'capped-server.mjs');
writeFileSync(CAPPED, `
import { createServer } from 'node:net';
const port = Number(process.argv.find((a) => a.startsWith('--port=')).slice(7));
let held = 0;
const server = createServer((s) => {
  if (held >= 500) return s.destroy();
  held++;
  s.once('data', () => s.write('HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n'));
  s.on('error', () => {});
  s.on('close', () => held--);
});
server.listen(port, '0.0.0.0', () => console.log('comet-lab server ready ' + JSON.stringify({ port })));
process.on('SIGTERM', () => process.exit(0));
`);

test('a run that holds fewer than N exits 4 (target missed), and its report says so', async () => {
  const config = resolveFloodConfig({
    n: '1000', backend: 'local', rate: '1000', holdSeconds: '1s', intervalSeconds: '1s', loadgenProcs: '1',
    out, stallSeconds: '3s', serverEntry: CAPPED, livePort: false, metricsPort: false,
  } as never);
  const r = await flood(config, io());
  assert.equal(r.exitCode, EXIT.targetMissed);
  assert.equal(r.exitCode, 4);
  assert.equal(r.summary!.targetReached, false);
  assert.ok(r.summary!.reached.client <= 500, `held ${r.summary!.reached.client}`);
  assert.match(readFileSync(join(r.reportDir!, 'report.md'), 'utf8'), /TARGET MISSED/);
});

test('a second flood while one runs refuses at once (exit 3, names the first), starts nothing; a dead owner\'s lock is taken over', async () => {
  const outA = join(out, 'a');
  const outB = join(out, 'b');
  // LAB_FLOOD_WAIT from the caller's environment would make the second flood wait instead of refusing.
  const env = { ...process.env, LAB_FLOOD_LOCK: LOCK, LAB_FLOOD_WAIT: '' };
  const first = spawn(process.execPath, ['orchestrator/cli.ts', 'flood', '--n', '200', '--backend', 'local', '--hold', '20s', '--interval', '1s', '--no-live', '--no-metrics', '--out', outA], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let text = '';
    first.stdout.on('data', (d: Buffer) => (text += d));
    first.stderr.on('data', (d: Buffer) => (text += d));
    const deadline = Date.now() + 30_000;
    while (!existsSync(LOCK) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(LOCK), `the first flood never took the lock: ${text}`);

    const second = spawn(process.execPath, ['orchestrator/cli.ts', 'flood', '--n', '200', '--backend', 'local', '--no-live', '--no-metrics', '--out', outB], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    second.stderr.on('data', (d: Buffer) => (err += d));
    second.stdout.on('data', (d: Buffer) => (err += d));
    const [code] = await once(second, 'exit');
    assert.equal(code, EXIT.preflight, err);
    assert.match(err, new RegExp(`LAB_ERR_BUSY.*another flood is running on this host: pid ${first.pid}`));
    assert.equal(existsSync(outB) ? readdirSync(outB).length : 0, 0, 'the refused flood wrote no report');
  } finally {
    first.kill('SIGINT');
    await once(first, 'exit');
  }
  assert.equal(existsSync(LOCK), false, 'released at the end');

  // A lock whose orchestrator was SIGKILLed (a pid that no longer runs) does not block the next flood.
  const dead = spawn(process.execPath, ['-e', '0']);
  await once(dead, 'exit');
  writeFileSync(LOCK, JSON.stringify({ pid: dead.pid, startTicks: 1, startedAt: 'then', backend: 'local', n: 1 }));
  assert.equal(processStartTicks(dead.pid!), undefined);
  const config = resolveFloodConfig({ n: '50', backend: 'local', rate: '500', holdSeconds: '1s', intervalSeconds: '1s', out, livePort: false, metricsPort: false } as never);
  const r = await flood(config, io());
  assert.equal(r.exitCode, EXIT.ok);
  assert.equal(existsSync(LOCK), false);
});
