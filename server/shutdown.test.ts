/**
 * Graceful shutdown: SIGTERM ends every open stream with its terminating chunk and the server (supervisor and
 * workers) is gone within 5 s, exit code 130 (shared/errors.ts EXIT.interrupted). A SIGKILLed supervisor leaves
 * no orphan workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStream, request, SERVER_POLL, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { alive } from '../shared/testing/processes.ts';

async function workerPids(url: string): Promise<number[]> {
  const stats = JSON.parse((await request(`${url}/stats`)).body);
  return stats.processes.filter((p: { role: string }) => p.role === 'worker').map((p: { pid: number }) => p.pid);
}

for (const engine of ['raw', 'http']) {
  test(`SIGTERM (${engine}): every stream ends cleanly, all processes exit within 5 s with 130`, async () => {
    const server = await startServerProcess(['--workers', '2', '--engine', engine]);
    const pids = await workerPids(server.url);
    const streams = await Promise.all(['a', 'b', 'c', 'd'].map((id) => openStream(`${server.url}/sse/${id}`)));
    const chunked = await openStream(`${server.url}/test/e`);
    await Promise.all([...streams, chunked].map((s) => s.waitFor('Welcome')));
    const t0 = Date.now();
    const code = await server.stop('SIGTERM');
    const ms = Date.now() - t0;
    assert.equal(code, 130);
    assert.ok(ms < 5000, `exited after ${ms} ms`);
    for (const s of [...streams, chunked]) assert.equal(await s.ended, 'end', 'terminating chunk received');
    await waitFor('workers gone', () => pids.every((p) => !alive(p)), 2000, SERVER_POLL);
  });
}

test('SIGKILL of the supervisor: workers exit by themselves', async () => {
  const server = await startServerProcess(['--workers', '2']);
  const pids = await workerPids(server.url);
  assert.equal(pids.length, 2);
  await server.stop('SIGKILL');
  await waitFor('orphan workers gone', () => pids.every((p) => !alive(p)), 3000, SERVER_POLL);
});
