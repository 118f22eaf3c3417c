/**
 * Faults that do not stop a run but must not pass for a clean one, against the real local backend: a server worker
 * SIGKILLed during the hold (the supervisor replaces it; the streams it held are gone) and a server SIGSTOPped for
 * 8 s (no answer, no heartbeats). Each run reaches its end, exits 6 (degraded), and its report says what happened;
 * the progress output says it while it happens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EXIT } from '../shared/errors.ts';
import type { LocalBackend } from './backends/local/local-backend.ts';
import { resolveFloodConfig } from './config/flood-config.ts';
import { flood, type FloodHooks } from './flood.ts';
import type { FloodRun } from './run/flood-run.ts';
import type { RunSample } from './run/sample.ts';

const out = mkdtempSync(join(tmpdir(), 'comet-lab-degraded-'));
test.after(() => rmSync(out, { recursive: true, force: true }));
const CG_ROOT = '/sys/fs/cgroup/memory/comet-lab';

/** The server's processes: its cgroup's pids, the supervisor first (the component's own pid). */
function serverPids(run: FloodRun): { supervisor: number; workers: number[] } {
  const runId = (run.backend as LocalBackend).options.runId;
  const pids = readFileSync(join(CG_ROOT, runId, 'server', 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
  const supervisor = Math.min(...pids); // started first
  return { supervisor, workers: pids.filter((p) => p !== supervisor) };
}

function atHold(fn: (run: FloodRun) => Promise<void> | void): FloodHooks & { done: () => Promise<void> } {
  let task: Promise<void> = Promise.resolve();
  let holdSamples = 0;
  return {
    onRun(run) {
      run.on('sample', (s: RunSample) => {
        if (s.phase === 'hold' && ++holdSamples === 2) task = Promise.resolve(fn(run));
      });
    },
    done: () => task,
  };
}

const io = () => {
  const text = { value: '' };
  const stderr = new PassThrough();
  stderr.on('data', (d: Buffer) => (text.value += d));
  return { io: { stdout: new PassThrough().resume(), stderr, env: {} as NodeJS.ProcessEnv }, text };
};

test('a server worker killed during the hold: the run ends, exit 6, the report says a worker died', async () => {
  const hooks = atHold((run) => {
    const { workers } = serverPids(run);
    assert.equal(workers.length, 2);
    process.kill(workers[0]!, 'SIGKILL');
  });
  const { io: streams, text } = io();
  const config = resolveFloodConfig({ n: '1000', backend: 'local', rate: '1000', holdSeconds: '6s', intervalSeconds: '1s', workers: '2', out, livePort: false, metricsPort: false });
  const r = await flood(config, streams, hooks);
  await hooks.done();
  assert.equal(r.exitCode, EXIT.degraded, JSON.stringify(r.summary?.incomplete));
  assert.equal(r.summary!.complete, true);
  assert.match(r.summary!.degraded!.join(' '), /server worker died and was replaced \(1 so far/);
  assert.match(readFileSync(join(r.reportDir!, 'report.md'), 'utf8'), /\*\*DEGRADED\*\*: server worker died/);
  assert.match(text.value, /server worker died/);
});

test('a server that stops answering for 8 s: the run says it stalled while it does, ends, exit 6', async () => {
  const hooks = atHold(async (run) => {
    const { supervisor, workers } = serverPids(run);
    for (const p of [supervisor, ...workers]) process.kill(p, 'SIGSTOP');
    await new Promise((res) => setTimeout(res, 8000));
    for (const p of [supervisor, ...workers]) process.kill(p, 'SIGCONT');
  });
  const { io: streams, text } = io();
  const config = resolveFloodConfig({ n: '500', backend: 'local', rate: '1000', holdSeconds: '14s', intervalSeconds: '1s', workers: '1', out, livePort: false, metricsPort: false });
  const r = await flood(config, streams, hooks);
  await hooks.done();
  assert.equal(r.exitCode, EXIT.degraded, JSON.stringify(r.summary));
  assert.match(r.summary!.degraded!.join(' '), /the run stalled for \d+\.\d s/);
  assert.match(text.value, /stalled: /);
});
