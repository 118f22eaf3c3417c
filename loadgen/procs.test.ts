/**
 * `--procs` above the per-process file limit: 25,000 connections (a process may hold 20,000 files) across two
 * load-generator processes, against the comet server with two workers. Heavy: it holds /tmp/comet-lab-heavy.lock
 * for its whole run, and is bounded (25,000 connections, about 10 s).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus, ServerStats } from '../shared/contracts.ts';
import { startServerProcess } from '../server/test-helpers.ts';
import { startWithReadyLine } from '../shared/testing/ready-process.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from './bench/bench-support.ts';
import { readyPrefix } from '../shared/ready-line.ts';

const N = 25_000;

/** Takes the heavy-run lock; resolves with the function that releases it. */
async function heavyLock(): Promise<() => Promise<void>> {
  const holder = spawn('flock', ['/tmp/comet-lab-heavy.lock', 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: holder.stdout! }).once('line', () => resolve());
    holder.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
  });
  return async () => {
    holder.stdin!.end();
    await exited(holder, 2000);
  };
}

function established(port: number): number {
  return execFileSync('ss', ['-Htan', 'state', 'established', `( dport = :${port} and ( src 127.0.0.2 or src 127.0.0.3 ) )`], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter((l) => l.trim() !== '').length;
}

let release: (() => Promise<void>) | undefined;
// Waiting for another heavy run to finish is not this test's time: the lock is taken before it starts.
before(async () => {
  release = await heavyLock();
}, { timeout: 900_000 });
after(async () => {
  await release?.();
});

test(`--procs 2 holds ${N} connections, above one process's file limit; the parent's status sums both`, { timeout: 120_000 }, async () => {
  const server = await startServerProcess(['--workers', '2', '--max-connections', String(N)]);
  let lg: Awaited<ReturnType<typeof startWithReadyLine<{ controlPort: number; procs: number; controlTokenFile: string }>>> | undefined;
  try {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    lg = await startWithReadyLine(NODE, [cli, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', String(N), '--procs', '2', '--source-ips', '127.0.0.2-127.0.0.3', '--control-port', '0', '--duration', '120', '--rate', '0'], readyPrefix('loadgen'));
    assert.equal(lg.info.procs, 2);
    const base = `http://127.0.0.1:${lg.info.controlPort}`;
    const token = controlTokenOf(lg.info);
    await postJson(`${base}/ramp`, { target: N, rate: 10_000 }, token);
    let s!: LoadgenStatus;
    await waitFor(`${N} active`, async () => (s = await getJson<LoadgenStatus>(`${base}/status`)).active === N, 120_000, { everyMs: 500, describe: () => s });
    assert.equal(s.procs, 2);
    assert.ok(Object.values(s.errors).every((n) => n === 0), JSON.stringify(s.errors));
    const stats = await getJson<ServerStats>(`${server.url}/stats`);
    assert.equal(stats.open.total, N, 'the server counts as many');
    assert.equal(established(server.port), N, 'ss on the host counts as many');
    const final = await postJson<LoadgenStatus>(`${base}/stop`, {}, token);
    assert.equal(final.active, 0);
    assert.equal(await exited(lg.proc, 30_000), 0);
  } finally {
    lg?.proc.kill('SIGKILL');
    await server.stop();
  }
});
