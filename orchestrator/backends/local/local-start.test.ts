/**
 * The local backend while its load generators are still starting, with real processes (a preload, testing/
 * loadgen-start-hook.mjs, makes a real load generator fail or block before its ready line):
 * - one load generator that fails at start among several: up() rejects and stop() ends the others still waiting for
 *   their ready line (before, they had no process handle yet and ran on after stop(), into the next run);
 * - the CLI given SIGINT while a load generator starts exits 130 within seconds (before, up() waited for the 30 s
 *   ready timeout) and leaves no process and no cgroup behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../flood.ts';
import { makePlan } from '../../plan/planner.ts';
import { alive } from '../../../shared/testing/processes.ts';
import { waitFor } from '../../../shared/testing/wait-for.ts';
import { detectCgroup } from './cgroup.ts';
import { LocalBackend } from './local-backend.ts';

const HOOK = fileURLToPath(new URL('./testing/loadgen-start-hook.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'comet-lab-local-start-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** The pids the hook recorded in `dir`. */
function recorded(dir: string): number[] {
  return readdirSync(dir).map(Number);
}

test('a load generator that fails at start among several: after stop(), none of the others is left running', { timeout: 60_000 }, async () => {
  const pids = mkdtempSync(join(work, 'pids-'));
  const base = makePlan(
    { n: 600, backend: 'local', engine: '', transport: 'chunked', rate: 1000, holdSeconds: 5, intervalSeconds: 1, serverPort: 0, workers: 1, loadgenProcs: 1 },
    { connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 8 * 2 ** 30, cores: 2 },
  );
  const lg = base.loadgens[0]!;
  const plan = { ...base, loadgens: [0, 1, 2].map((i) => ({ ...lg, name: `loadgen-${i + 1}`, procs: 1, connections: 200, startIndex: i * 200 })) };
  // Without cgroups: then only the backend's own signals end a process (a cgroup's removal would kill it anyway).
  const backend = new LocalBackend({ runId: `${process.pid}-start-${Date.now().toString(36)}`, lifetimeSeconds: 60, cwd: REPO_ROOT, cgroups: false });
  const saved = { ...process.env };
  // loadgen-2 fails at once; loadgen-1 and loadgen-3 print their ready line 4 s late, long after stop() returned.
  Object.assign(process.env, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim(), LAB_TEST_PIDS_DIR: pids, LAB_TEST_LOADGEN_FAIL: '200', LAB_TEST_LOADGEN_HANG: '4000' });
  try {
    await assert.rejects(backend.up(plan), /loadgen did not start: exit code 1/);
  } finally {
    for (const k of ['NODE_OPTIONS', 'LAB_TEST_PIDS_DIR', 'LAB_TEST_LOADGEN_FAIL', 'LAB_TEST_LOADGEN_HANG']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  await backend.stop();
  const all = recorded(pids);
  assert.ok(all.length >= 2, `the server and the failing load generator started: ${all}`);
  await sleep(5000); // past the hang: a load generator the stop missed is now ready and running
  assert.deepEqual(all.filter(alive), [], 'every process of the run has ended');
});

test('SIGINT while a load generator is still starting: the CLI exits 130 within seconds and leaves nothing', { timeout: 90_000 }, async (t) => {
  const pids = mkdtempSync(join(work, 'pids-'));
  const cli = spawn(process.execPath, ['orchestrator/cli.ts', 'flood', '--n', '200', '--backend', 'local', '--rate', '1000', '--hold', '5s', '--no-live', '--no-metrics', '--no-report', '--json'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim(), LAB_TEST_PIDS_DIR: pids, LAB_TEST_LOADGEN_HANG: '60000',
      LAB_FLOOD_LOCK: join(work, 'flood.lock'), LAB_FLOOD_WAIT: '',
    },
  });
  let text = '';
  cli.stdout.on('data', (d: Buffer) => (text += d));
  cli.stderr.on('data', (d: Buffer) => (text += d));
  const exited = once(cli, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await waitFor('a load generator to be starting', () => readdirSync(pids).some((f) => readFileSync(join(pids, f), 'latin1') === 'loadgen'), 30_000, { everyMs: 100 });
    const all = recorded(pids);
    const sentAt = Date.now();
    cli.kill('SIGINT');
    const ended = await Promise.race([exited, sleep(15_000).then(() => undefined)]);
    const tookMs = Date.now() - sentAt;
    assert.ok(ended, `the CLI still runs 15 s after SIGINT:\n${text}`);
    assert.equal(ended[0], 130, text);
    assert.ok(tookMs < 10_000, `exited ${tookMs} ms after SIGINT`);
    t.diagnostic(`exited 130 ${tookMs} ms after SIGINT`);
    // The hung load generator cannot read its lifeline's EOF: only the backend's stop reaches it.
    assert.deepEqual(all.filter(alive), [], 'the server and the load generator have ended');
    const cg = detectCgroup();
    const left = cg && existsSync(cg.labRoot) ? readdirSync(cg.labRoot).filter((d) => d.startsWith(`${cli.pid}-`)) : [];
    assert.deepEqual(left, [], 'the run\'s cgroups are removed');
  } finally {
    if (cli.exitCode === null) cli.kill('SIGKILL');
    for (const p of recorded(pids)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});
