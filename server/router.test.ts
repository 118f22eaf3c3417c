/**
 * The router across worker processes: 1,000 ids with 5 messages each, every message exactly once and in order,
 * streams spread over 2 workers by the kernel (SO_REUSEPORT), sends over keep-alive API connections, broadcast,
 * the admin token, and a worker replaced after it dies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { messagesIn, openStream, rawStream, request, SERVER_POLL, type ServerProcess, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';

const IDS = 1000;
const MESSAGES = 5;


describe('router across 2 workers', () => {
  let server: ServerProcess;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const post = (path: string, body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { method: 'POST', agent }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });

  before(async () => {
    server = await startServerProcess(['--workers', '2', '--interval', '60s']);
  });
  after(async () => {
    agent.destroy();
    await server?.stop();
  });

  test(`${IDS} ids x ${MESSAGES} messages: each stream gets its own, exactly once, in order`, async () => {
    const streams = Array.from({ length: IDS }, (_, i) => rawStream(server.port, `user-${i}`));
    try {
      await Promise.all(streams.map((s) => s.ready));
      const stats = JSON.parse((await request(`${server.url}/stats`)).body);
      assert.equal(stats.open.total, IDS);
      const perWorker = stats.processes.filter((p: { role: string }) => p.role === 'worker').map((p: { open: number }) => p.open);
      assert.equal(perWorker.length, 2);
      assert.ok(perWorker.every((n: number) => n > 0), `both workers hold streams: ${perWorker}`);
      for (let k = 1; k <= MESSAGES; k++) {
        const results = await Promise.all(streams.map((_, i) => post(`/send/user-${i}`, `m${k} for user-${i}`)));
        for (const r of results) assert.equal(r.status, 200, r.body);
        assert.ok(results.every((r) => JSON.parse(r.body).delivered === 1));
      }
      const b = await post('/broadcast', 'everyone');
      assert.equal(JSON.parse(b.body).delivered, IDS);
      await waitFor('broadcast everywhere', () => streams.every((s) => s.text().includes(' everyone\n')), 10_000, SERVER_POLL);
      streams.forEach((s, i) => {
        const expected = [...Array.from({ length: MESSAGES }, (_, k) => `m${k + 1} for user-${i}`), 'everyone'];
        assert.deepEqual(messagesIn(s.text()), expected, `user-${i}`);
      });
      const after = JSON.parse((await request(`${server.url}/stats`)).body);
      assert.equal(after.messagesSent, IDS * (MESSAGES + 1));
      assert.ok(after.deliveryMs.count >= IDS * MESSAGES);
    } finally {
      for (const s of streams) s.socket.destroy();
    }
  });

  test('an id open on both workers gets a send on each of its streams', async () => {
    const open = [];
    try {
      // the kernel hashes each connection to a worker: open a few under one id until both workers hold it
      for (let i = 0; i < 20; i++) {
        open.push(await openStream(`${server.url}/test/shared`));
        await open[i]!.waitFor('Welcome');
        const stats = JSON.parse((await request(`${server.url}/stats`)).body);
        const holders = stats.processes.filter((p: { role: string; open: number }) => p.role === 'worker' && p.open > 0);
        if (holders.length === 2) break;
      }
      const r = await post('/send/shared', 'to every shared stream');
      assert.equal(JSON.parse(r.body).delivered, open.length);
      await Promise.all(open.map((s) => s.waitFor(' to every shared stream\n')));
    } finally {
      for (const s of open) s.close();
    }
  });

  test('/metrics sums the workers and names every contract metric', async () => {
    const text = (await request(`${server.url}/metrics`)).body;
    for (const name of ['comet_open_connections', 'comet_connections_opened_total', 'comet_connections_closed_total', 'comet_chunks_sent_total', 'comet_messages_sent_total', 'comet_message_delivery_seconds_bucket', 'comet_event_loop_lag_seconds', 'comet_worker_restarts_total', 'process_resident_memory_bytes', 'comet_process_open_fds']) {
      assert.ok(text.includes(name), name);
    }
    const opened = Number(/comet_connections_opened_total\{transport="chunked"\} (\d+)/.exec(text)?.[1]);
    assert.ok(opened >= IDS, `opened ${opened}`);
    assert.equal((text.match(/comet_process_open_fds\{/g) ?? []).length, 3, 'one series per process');
  });

  test('a worker that dies is replaced and counted with the streams it held, in /stats and /metrics', async () => {
    const s = await openStream(`${server.url}/test/victim`);
    await s.waitFor('Welcome');
    await new Promise((r) => setTimeout(r, 400)); // workers report the streams they hold every 250 ms
    const stats = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.equal(stats.workerDeaths, 0);
    assert.equal(stats.lastWorkerDeath, null);
    const holder = stats.processes.find((p: { role: string; open: number }) => p.role === 'worker' && p.open > 0);
    const t0 = Date.now();
    process.kill(holder.pid, 'SIGKILL');
    assert.equal(await s.ended, 'aborted');
    await waitFor('replacement ready', async () => JSON.parse((await request(`${server.url}/stats`)).body).workersReady === 2, 10_000, SERVER_POLL);
    const again = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.equal(again.workerRestarts, 1);
    assert.equal(again.workerDeaths, 1);
    assert.equal(again.streamsLost, holder.open);
    assert.equal(again.lastWorkerDeath.pid, holder.pid);
    assert.equal(again.lastWorkerDeath.worker, holder.worker);
    assert.equal(again.lastWorkerDeath.reason, 'SIGKILL');
    assert.equal(again.lastWorkerDeath.streams, holder.open);
    assert.ok(again.lastWorkerDeath.atMs >= t0 && again.lastWorkerDeath.atMs <= Date.now());
    const metrics = (await request(`${server.url}/metrics`)).body;
    assert.match(metrics, /^comet_worker_deaths_total 1$/m);
    assert.match(metrics, new RegExp(`^comet_streams_lost_total ${holder.open}$`, 'm'));
    assert.match(metrics, /^comet_worker_restarts_total 1$/m);
    await waitFor('victim out of the directory', async () => (await post('/send/victim', 'x')).status === 404, 3000, SERVER_POLL);
  });
});

describe('admin token', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess(['--workers', '1'], { COMET_ADMIN_TOKEN: 's3cret' });
  });
  after(async () => {
    await server?.stop();
  });

  test('send and broadcast demand the bearer token (401 otherwise); reads do not', async () => {
    assert.equal((await request(`${server.url}/send/x`, { method: 'POST', body: 'a' })).status, 401);
    assert.equal((await request(`${server.url}/broadcast`, { method: 'POST', body: 'a', headers: { authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await request(`${server.url}/send/x`, { method: 'POST', body: 'a', headers: { authorization: 'Bearer s3cret' } })).status, 404);
    assert.equal((await request(`${server.url}/broadcast`, { method: 'POST', body: 'a', headers: { authorization: 'Bearer s3cret' } })).status, 200);
    assert.equal((await request(`${server.url}/health`)).status, 200);
  });
});
