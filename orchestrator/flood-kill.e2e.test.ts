/**
 * The orchestrator SIGKILLed mid-run, as an out-of-memory killer or a `kill -9` would: every process it started ends
 * by itself within seconds (the server through --exit-with-parent on its stdin lifeline, the load generators through
 * their own lifelines), and the next flood removes what was left on disk: the dead run's cgroups, its Prometheus
 * targets file and the server's API socket. Real CLI process, real server and load generators.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { resolveFloodConfig } from './config/flood-config.ts';
import { DEFAULT_TARGETS_DIR } from './exporter/prometheus-targets.ts';
import { flood, REPO_ROOT } from './flood.ts';
import { alive } from '../shared/testing/processes.ts';

const CG_ROOT = '/sys/fs/cgroup/memory/comet-lab';
const out = mkdtempSync(join(tmpdir(), 'comet-lab-kill-'));
test.after(() => rmSync(out, { recursive: true, force: true }));

const runDirs = () => (existsSync(CG_ROOT) ? readdirSync(CG_ROOT) : []);
const pidsIn = (run: string) =>
  readdirSync(join(CG_ROOT, run)).flatMap((c) => {
    try {
      return readFileSync(join(CG_ROOT, run, c, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });

interface HeldRun {
  /** The processes in the run's cgroups during the hold. */
  pids: number[];
  /** The run's cgroup folder (`<cli pid>-...`). */
  run: string;
  cliPid: number;
}

/**
 * Starts a flood CLI, waits for its hold, calls `atHold` (what the run left on the host can be read there), SIGKILLs
 * it; resolves with the pids of its run, how long they took to go, and those still running after 15 s.
 */
async function killDuringHold(extra: string[], atHold?: (held: HeldRun) => void): Promise<HeldRun & { tookMs: number; still: number[] }> {
  const before = new Set(runDirs());
  const cli = spawn(process.execPath, ['orchestrator/cli.ts', 'flood', '--n', '500', '--backend', 'local', '--rate', '1000', '--hold', '60s', '--interval', '1s', '--no-live', '--metrics-port', '0', '--out', out, ...extra], {
    cwd: REPO_ROOT, env: { ...process.env, LAB_FLOOD_WAIT: '10m' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  cli.stdout.on('data', (d: Buffer) => (text += d));
  cli.stderr.on('data', (d: Buffer) => (text += d));
  const deadline = Date.now() + 600_000;
  while (!/phase hold/.test(text) && Date.now() < deadline && cli.exitCode === null) await new Promise((r) => setTimeout(r, 200));
  assert.match(text, /phase hold/, text);
  const run = runDirs().find((d) => !before.has(d) && d.startsWith(`${cli.pid}-`));
  assert.ok(run, `the run's cgroup folder: ${runDirs()}`);
  const held = { pids: pidsIn(run), run, cliPid: cli.pid! };
  try {
    atHold?.(held);
  } finally {
    cli.kill('SIGKILL');
    await once(cli, 'exit');
  }
  const killedAt = Date.now();
  while (held.pids.some(alive) && Date.now() - killedAt < 15_000) await new Promise((r) => setTimeout(r, 100));
  return { ...held, tookMs: Date.now() - killedAt, still: held.pids.filter(alive) };
}

test('a SIGKILLed orchestrator with a server the lab did not write (nginx-idle): nginx stops too', async (t) => {
  const r = await killDuringHold(['--target', 'nginx-idle']);
  assert.ok(r.pids.length >= 3, `nginx master, its workers, the load generator: ${r.pids}`);
  assert.deepEqual(r.still, [], 'every process of the run ended by itself');
  assert.ok(r.tookMs < 5000, `took ${r.tookMs} ms`);
  t.diagnostic(`all processes gone ${r.tookMs} ms after the SIGKILL`);
});

test('a SIGKILLed orchestrator leaves nothing running; the next flood clears what it left on disk', async (t) => {
  let targetsFile = '';
  let sockets: string[] = [];
  const { run, still, tookMs } = await killDuringHold([], ({ pids, cliPid }) => {
    assert.ok(pids.length >= 3, `server, workers, load generator: ${pids}`);
    targetsFile = join(DEFAULT_TARGETS_DIR, `run-${cliPid}.json`);
    assert.ok(existsSync(targetsFile), 'the run wrote its Prometheus targets');
    sockets = readdirSync(tmpdir()).filter((f) => /^comet-lab-api-\d+-\d+\.sock$/.test(f));
  });
  assert.deepEqual(still, [], 'every process of the run ended by itself');
  // By their lifelines (stdin EOF), not by accident: without them the load generators lived until a report line
  // hit the dead orchestrator's stdout (9.2 s here) or until --duration.
  assert.ok(tookMs < 5000, `took ${tookMs} ms`);

  // What a SIGKILL cannot clean is cleared by the next flood.
  assert.ok(existsSync(join(CG_ROOT, run)), 'the dead run\'s cgroups are still there');
  const config = resolveFloodConfig({ n: '50', backend: 'local', rate: '500', holdSeconds: '1s', intervalSeconds: '1s', out, livePort: false, metricsPort: '0' });
  const r = await flood(config, { stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} });
  assert.equal(r.exitCode, 0);
  assert.equal(existsSync(join(CG_ROOT, run)), false, 'cgroups of the dead run removed');
  assert.equal(existsSync(targetsFile), false, 'its Prometheus targets removed');
  const left = readdirSync(tmpdir()).filter((f) => sockets.includes(f) && !alive(Number(f.split('-')[3])));
  assert.deepEqual(left, [], 'no API socket of a dead server');
  t.diagnostic(`all processes gone ${tookMs} ms after the SIGKILL`);
});
