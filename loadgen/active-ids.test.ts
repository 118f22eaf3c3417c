/**
 * `GET /active-ids?n=N`: a random sample of the indices of connections active now, over every child process. A ramp
 * that holds fewer than planned (here 100 of 300) must give only indices that are connected, so routed sends reach
 * real streams (the server answers 404 for an id nobody holds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { startServerProcess } from '../server/test-helpers.ts';
import { startWithReadyLine } from '../shared/testing/ready-process.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from './bench/bench-support.ts';
import { readyPrefix } from '../shared/ready-line.ts';

interface Sample { active: number; ids: number[] }

test('GET /active-ids samples only connected indices, over both child processes, and follows a ramp down', { timeout: 60_000 }, async () => {
  const server = await startServerProcess(['--workers', '1']);
  let lg: Awaited<ReturnType<typeof startWithReadyLine<{ controlPort: number; controlTokenFile: string }>>> | undefined;
  try {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    lg = await startWithReadyLine(NODE, [cli, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '300', '--procs', '2', '--control-port', '0', '--duration', '60', '--rate', '0'], readyPrefix('loadgen'));
    const base = `http://127.0.0.1:${lg.info.controlPort}`;
    const token = controlTokenOf(lg.info);
    await postJson(`${base}/ramp`, { target: 100, rate: 0 }, token);
    let s!: LoadgenStatus;
    await waitFor('100 active', async () => (s = await getJson<LoadgenStatus>(`${base}/status`)).active === 100, 30_000, { describe: () => s });

    // Each child holds half the indices (0..149, 150..299) and opened its first 50.
    const connected = (i: number) => (i >= 0 && i < 50) || (i >= 150 && i < 200);
    const all = await getJson<Sample>(`${base}/active-ids?n=1000`);
    assert.equal(all.active, 100);
    assert.equal(all.ids.length, 100);
    assert.equal(new Set(all.ids).size, 100, 'distinct');
    assert.ok(all.ids.every(connected), `only connected indices: ${all.ids.filter((i) => !connected(i))}`);

    const some = await getJson<Sample>(`${base}/active-ids?n=10`);
    assert.equal(some.ids.length, 10);
    assert.equal(new Set(some.ids).size, 10);
    assert.ok(some.ids.every(connected));
    assert.equal(some.ids.filter((i) => i < 150).length, 5, 'from each child in proportion to what it holds');

    // Every sampled id is one the server can route a send to.
    for (const id of some.ids) {
      const res = await fetch(`${server.url}/send/${id}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
      await res.arrayBuffer();
      assert.equal(res.status < 300, true, `send to ${id}: ${res.status}`);
    }

    await postJson(`${base}/ramp`, { target: 40, rate: 0 }, token);
    await waitFor('40 active', async () => (s = await getJson<LoadgenStatus>(`${base}/status`)).active === 40, 30_000, { describe: () => s });
    const down = await getJson<Sample>(`${base}/active-ids?n=1000`);
    assert.equal(down.ids.length, 40);
    assert.ok(down.ids.every((i) => (i >= 0 && i < 20) || (i >= 150 && i < 170)), String(down.ids));

    for (const bad of ['0', 'x', '100001', '-1']) {
      const res = await fetch(`${base}/active-ids?n=${bad}`);
      const body = await res.json() as { error: string };
      assert.equal(res.status, 400, bad);
      assert.equal(body.error, 'LAB_ERR_BAD_REQUEST');
    }
    await postJson(`${base}/stop`, {}, token);
    assert.equal(await exited(lg.proc, 30_000), 0);
  } finally {
    lg?.proc.kill('SIGKILL');
    await server.stop();
  }
});
