/**
 * End to end against the real server and load generators: a small flood whose report is checked against readings
 * the test takes itself (the server's /stats, `ss` counts, the cgroup files), then teardown after a component is
 * killed mid-run and after a real SIGINT, and bad input. Set LAB_SERVER_ENTRY to try another server program.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ServerStats } from '../shared/contracts.ts';
import { resolveFloodConfig } from './config/flood-config.ts';
import { flood, REPO_ROOT, type FloodHooks } from './flood.ts';
import type { LocalBackend } from './backends/local/local-backend.ts';
import { parseMemoryStat } from './backends/probes/memory-stat.ts';
import { processTree } from './backends/probes/process-tree.ts';
import type { FloodRun } from './run/flood-run.ts';
import type { RunSample } from './run/sample.ts';
import { writeReport } from './report/write-report.ts';
import { main } from './cli.ts';
import { alive } from '../shared/testing/processes.ts';

const NODE = process.execPath;
const CG_ROOT = '/sys/fs/cgroup/memory/comet-lab';
const out = mkdtempSync(join(tmpdir(), 'comet-lab-orch-'));
test.after(() => rmSync(out, { recursive: true, force: true }));

const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} as NodeJS.ProcessEnv });
const smallFlood = (extra: Record<string, string | boolean> = {}) =>
  resolveFloodConfig({
    n: '2000', backend: 'local', rate: '1000', holdSeconds: '4s', intervalSeconds: '1s', workers: '2', loadgenProcs: '2',
    sampleSeconds: '500ms', out, stallSeconds: '15s', serverEntry: process.env.LAB_SERVER_ENTRY, ...extra,
  });
/** Established TCP sockets on `side` = port owned by one of `pids` (the test's own HTTP calls are not counted). */
const established = (port: number, side: 'dport' | 'sport', pids: number[]) =>
  execFileSync('ss', ['-Htanp', 'state', 'established', `( ${side} = :${port} )`], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
    .split('\n')
    .filter((line) => pids.some((pid) => line.includes(`pid=${pid},`))).length;
const cgroupPids = (dir: string) => readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
/** The memory cgroup a process is in (v1), as a path under /sys/fs/cgroup/memory. */
const memoryCgroupOf = (pid: number) =>
  join('/sys/fs/cgroup/memory', readFileSync(`/proc/${pid}/cgroup`, 'latin1').split('\n').find((l) => /^\d+:memory:/.test(l))!.split(':')[2]!);
const workingSet = (dir: string) => {
  const usage = Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'latin1'));
  return usage - (parseMemoryStat(readFileSync(join(dir, 'memory.stat'), 'latin1')).get('total_inactive_file') ?? 0);
};

/** Calls `fn` once, on the second sample of the hold (the connections have settled by then). */
function duringHold(fn: (run: FloodRun, sample: RunSample) => Promise<void> | void): FloodHooks & { done: () => Promise<void> } {
  let task: Promise<void> = Promise.resolve();
  let holdSamples = 0;
  return {
    onRun(run) {
      run.on('sample', (s: RunSample) => {
        if (s.phase === 'hold' && ++holdSamples === 3) task = Promise.resolve(fn(run, s));
      });
    },
    done: () => task,
  };
}

test('a 2,000-connection flood: report figures match the test\'s own /stats, ss and cgroup readings; nothing is left behind', async () => {
  const seen: { stats?: ServerStats; ssClient?: number; ssServer?: number; sample?: RunSample; pids?: number[]; cgDir?: string } = {};
  // Every hold sample's server memory beside the test's own cgroup reading taken as the sample arrives (the same
  // moment, give or take a millisecond: the server's idle GC drops 12-15 MiB a few seconds after the ramp, so a
  // reading taken a second apart may straddle it).
  const pairs: Array<{ sampled: number; read: number }> = [];
  const runId = { value: '' };
  const hooks = duringHold(async (run, sample) => {
    const server = run.backend.components().find((c) => c.role === 'server')!;
    const port = Number(new URL(server.url).port);
    seen.sample = sample;
    seen.stats = (await (await fetch(`${server.url}/stats`)).json()) as ServerStats;
    seen.cgDir = join(CG_ROOT, (run.backend as LocalBackend).options.runId);
    seen.ssClient = established(port, 'dport', cgroupPids(join(seen.cgDir, 'loadgen-1')));
    seen.ssServer = established(port, 'sport', cgroupPids(join(seen.cgDir, 'server')));
    seen.pids = processTree(process.pid).map((p) => p.pid).filter((p) => p !== process.pid);
  });
  const onRun = hooks.onRun!;
  hooks.onRun = (run) => {
    onRun(run);
    runId.value = (run.backend as LocalBackend).options.runId;
    run.on('sample', (x: RunSample) => {
      const sampled = x.components.find((c) => c.name === 'server')?.workingSetBytes;
      if (x.phase === 'hold' && sampled !== undefined) pairs.push({ sampled, read: workingSet(join(CG_ROOT, runId.value, 'server')) });
    });
  };
  const result = await flood(smallFlood(), io(), hooks);
  await hooks.done();
  assert.equal(result.exitCode, 0, JSON.stringify(result.summary?.incomplete));
  const s = result.summary!;
  assert.equal(result.plan.server.workers, 2);
  assert.equal(result.plan.loadgens[0]!.procs, 2);

  // Connections: the report's counts, the server's /stats, and the kernel's established sockets agree.
  assert.equal(seen.stats!.open.total, 2000);
  assert.equal(seen.stats!.workers, 2);
  assert.equal(seen.ssClient, 2000, 'client-side established sockets to the server port');
  // Server side: the 2,000 streams plus the sampler's keep-alive HTTP connection(s) to the API, at most a few.
  assert.ok(seen.ssServer! >= 2000 && seen.ssServer! <= 2004, `server-side established sockets on the server port: ${seen.ssServer}`);
  assert.equal(s.reached.client, 2000);
  assert.equal(s.reached.server, 2000);
  assert.ok(s.secondsToTarget! > 0 && s.rampRate! > 0);

  // Memory: the cgroup read directly at each hold sample, against that sample, and the report's hold mean against
  // the mean of the direct readings. Every pair but one within 3% (a GC may fall between the two reads of a pair).
  assert.equal(s.memory.server.method, 'cgroup-v1');
  assert.ok(pairs.length >= 3, `hold samples: ${pairs.length}`);
  const close = pairs.filter((p) => Math.abs(p.sampled - p.read) / p.read < 0.03).length;
  assert.ok(close >= pairs.length - 1, `sampled vs read: ${JSON.stringify(pairs)}`);
  const readMean = pairs.reduce((a, p) => a + p.read, 0) / pairs.length;
  assert.ok(Math.abs(s.memory.server.holdBytes! - readMean) / readMean < 0.03, `hold mean ${s.memory.server.holdBytes} vs read ${readMean}`);
  assert.ok(s.memory.server.fit && s.memory.server.fit.slope > 0, 'a positive slope over the ramp');
  assert.ok(s.memory.loadgen.holdPerConnectionBytes! > 0);

  // Heartbeats flowed: at 1 s over a 4 s hold, close to 4 chunks per connection.
  assert.ok(s.chunks.received! >= 0.85 * s.chunks.expected!, `chunks ${s.chunks.received} of ${s.chunks.expected}`);
  assert.equal(Object.values(s.errors).reduce((a, b) => a + b, 0), 0);

  // The report folder: every file, latest pointing at it, an HTML page that needs no network, regenerable.
  const dir = result.reportDir!;
  for (const f of ['report.md', 'report.html', 'samples.csv', 'summary.json', 'run.json']) assert.ok(existsSync(join(dir, f)), f);
  assert.equal(readlinkSync(join(out, 'latest')), dir.split('/').at(-1));
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(html, /uPlot/);
  assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)="?https?:/);
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  assert.match(md, /cgroup-v1/);
  const before = readFileSync(join(dir, 'summary.json'), 'utf8');
  writeReport(dir, { updateLatest: false });
  assert.equal(readFileSync(join(dir, 'summary.json'), 'utf8'), before);
  // `make report`: where the latest report is, and its summary line.
  const printed = io();
  let text = '';
  printed.stdout.on('data', (d) => (text += d));
  assert.equal(await main(['report', '--dir', join(out, 'latest')], printed), 0);
  assert.match(text, new RegExp(`latest report: ${dir}/report.md`));
  assert.match(text, /passed: 2,000 held, nothing died, reached 2,000\/2,000 \(server 2,000\)/);

  // Nothing left: no process the run started, no cgroup.
  assert.ok(seen.pids!.length >= 4, `pids seen during the hold: ${seen.pids}`);
  assert.deepEqual(seen.pids!.filter(alive), []);
  assert.equal(existsSync(seen.cgDir!), false);
});

test('a load generator killed mid-run: the run stops, names it, writes an incomplete report, leaves nothing', async () => {
  let pids: number[] = [];
  let cgDir = '';
  const hooks = duringHold((run) => {
    cgDir = join(CG_ROOT, (run.backend as LocalBackend).options.runId);
    pids = processTree(process.pid).map((p) => p.pid).filter((p) => p !== process.pid);
    // The load generator's main process (the orchestrator's child); its worker processes are left orphaned.
    const victim = run.backend.components().find((c) => c.name === 'loadgen-1') as unknown as { proc: { child: { pid: number } } };
    process.kill(victim.proc.child.pid, 'SIGKILL');
  });
  const result = await flood(smallFlood({ holdSeconds: '20s' }), io(), hooks);
  await hooks.done();
  assert.equal(result.exitCode, 1);
  assert.equal(result.summary!.complete, false);
  assert.match(result.summary!.incomplete!, /loadgen-1 died/);
  assert.match(readFileSync(join(result.reportDir!, 'report.md'), 'utf8'), /INCOMPLETE.*loadgen-1 died/);
  assert.ok(pids.length >= 4);
  assert.deepEqual(pids.filter(alive), []);
  assert.equal(existsSync(cgDir), false);
});

test('SIGINT to the CLI during the hold: exit 130, report marked incomplete, no process and no cgroup left', async () => {
  const child = spawn(NODE, ['orchestrator/cli.ts', 'flood', '--backend', 'local', '--n', '1000', '--rate', '1000', '--hold', '60s', '--interval', '1s',
    '--workers', '2', '--loadgen-procs', '1', '--out', out, '--json'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let pids: number[] = [];
  let cgroups: string[] = [];
  let stdout = '';
  let holdSamples = 0;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    for (const line of d.toString().split('\n')) {
      if (line.includes('"event":"sample"') && line.includes('"phase":"hold"') && ++holdSamples === 2) {
        pids = processTree(child.pid!).map((p) => p.pid).filter((p) => p !== child.pid);
        cgroups = [...new Set(pids.map(memoryCgroupOf))];
        child.kill('SIGINT');
      }
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  assert.equal(code, 130, stdout.slice(-2000));
  assert.ok(pids.length >= 2, `pids: ${pids}`);
  assert.deepEqual(pids.filter(alive), []);
  assert.equal(cgroups.length, 2, `one cgroup per component: ${cgroups}`);
  for (const cg of cgroups) assert.ok(cg.startsWith(`${CG_ROOT}/`), cg);
  assert.deepEqual(cgroups.filter(existsSync), []);
  assert.deepEqual(cgroups.map((c) => join(c, '..')).filter(existsSync), [], 'the run folder is removed too');
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { event: string; summary: { run: { complete: boolean; incomplete: string; verdict: string } } };
  assert.equal(report.event, 'report');
  assert.equal(report.summary.run.complete, false);
  assert.equal(report.summary.run.verdict, 'interrupted');
  assert.match(report.summary.run.incomplete, /SIGINT/);
});

test('bad input exits 2 with every problem listed, and starts nothing', () => {
  const before = readdirSync(out).length;
  const run = (...args: string[]) => {
    try {
      execFileSync(NODE, ['orchestrator/cli.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' });
      return { status: 0, stderr: '' };
    } catch (err) {
      const e = err as { status: number; stderr: string };
      return { status: e.status, stderr: e.stderr };
    }
  };
  const all = run('flood', '--n', '-5', '--backend', 'kubernetes', '--rate', '0', '--out', '/etc/hostname/reports');
  assert.equal(all.status, 2);
  for (const word of ['--n', '--backend', '--rate', '--out']) assert.match(all.stderr, new RegExp(word));
  assert.doesNotMatch(all.stderr, /at .*\.ts:\d+/, 'no stack trace');
  assert.equal(run('flood', '--n', '1.5').status, 2);
  assert.equal(run('flood').status, 2);
  assert.equal(run('flood', '--n', '10', '--unknown-flag').status, 2);
  assert.equal(run('report', '--dir', join(out, 'nothing-here')).status, 2);
  assert.equal(readdirSync(out).length, before, 'no report folder was made');
});
