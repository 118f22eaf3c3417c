/**
 * Resume across a real server restart, with real SSE and long-poll clients: positions carry the server run's epoch
 * (`<epoch>-<seq>`), so a client coming back with a position of the previous run is told to reset (SSE
 * `event: reset`, a poll's 205) instead of waiting for a sequence that restarted at 1, and sends to its open stream
 * are delivered, never 404. The load generator counts the resets. A send answered 404 is never delivered later by
 * replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool } from '../loadgen/pool-spec.ts';
import type { ConnectionPool } from '../loadgen/pool.ts';
import { openStream, request, SERVER_POLL, type ServerProcess, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { untilStatus } from '../loadgen/testing/pool-harness.ts';

const send = (server: ServerProcess, id: string, body: string) => request(`${server.url}/send/${id}`, { method: 'POST', body });
const lastId = (text: string) => [...text.matchAll(/^id: (.*)$/gm)].pop()?.[1];

/** Stops `server` and starts another on its port (the port may linger a moment in the kernel: retried briefly). */
async function restart(server: ServerProcess, args: string[]): Promise<ServerProcess> {
  await server.stop();
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      return await startServerProcess([...args, '--port', String(server.port)]);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`could not restart on port ${server.port}: ${String(last)}`);
}

test('SSE and poll clients resuming after a restart are told to reset; sends to them are delivered', { timeout: 60_000 }, async () => {
  const args = ['--workers', '1', '--interval', '60s', '--poll-wait', '3s'];
  const first = await startServerProcess(args);
  let second: ServerProcess | undefined;
  try {
    const sse = await openStream(`${first.url}/sse/resumer`);
    await sse.waitFor('Welcome');
    for (const m of ['m1', 'm2', 'm3']) assert.equal((await send(first, 'resumer', m)).status, 200);
    await sse.waitFor(' m3\n\n');
    const sseCursor = lastId(sse.text())!;
    assert.equal(sseCursor, `${first.epoch}-3`);
    const poll = request(`${first.url}/poll/poller`);
    await waitFor('poll waiting', async () => (await send(first, 'poller', 'p1')).status === 200, 3000, SERVER_POLL);
    const polled = await poll;
    const pollCursor = String(polled.headers['comet-event-id']);
    assert.match(pollCursor, new RegExp(`^${first.epoch}-\\d+$`));
    sse.close();

    second = await restart(first, args);
    assert.notEqual(second.epoch, first.epoch, 'a new run, a new epoch');
    // SSE: the client comes back with the old run's position
    const back = await openStream(`${second.url}/sse/resumer`, { 'last-event-id': sseCursor });
    try {
      await back.waitFor(`event: reset\nid: ${second.epoch}-0\ndata: ${second.epoch}\n\n`);
      const sent = await send(second, 'resumer', 'after the restart');
      assert.equal(sent.status, 200, `a send to the resumed stream: ${sent.body}`);
      await back.waitFor(`id: ${second.epoch}-${JSON.parse(sent.body).seq}\ndata: @`);
      assert.ok(!back.text().includes(' m1\n'), 'nothing of the old run is replayed');
    } finally {
      back.close();
    }
    // long-poll: 205 with this run's start as the position; the next poll from there gets what was sent
    const reset = await request(`${second.url}/poll/poller`, { headers: { 'last-event-id': pollCursor } });
    assert.equal(reset.status, 205);
    const start = String(reset.headers['comet-event-id']);
    assert.equal(start, `${second.epoch}-0`);
    const next = request(`${second.url}/poll/poller`, { headers: { 'last-event-id': start } });
    await waitFor('poll waiting', async () => (await send(second!, 'poller', 'p2')).status < 300, 3000, SERVER_POLL);
    const got = await next;
    assert.equal(got.status, 200);
    assert.match(got.body, / p2\n$/);
    const stats = JSON.parse((await request(`${second.url}/stats`)).body);
    assert.equal(stats.epoch, second.epoch);
    assert.equal(stats.resets, 2);
  } finally {
    await (second ?? first).stop();
  }
});

async function pool(port: number, transport: 'sse' | 'poll', capacity: number): Promise<ConnectionPool> {
  return createPool({
    template: `http://127.0.0.1:${port}/${transport}/lg-${transport}-{i}`,
    firstIndex: 0,
    capacity,
    transport,
    sourceAddresses: [],
    portRange: [32768, 60999],
    maxConnecting: 100,
    connectTimeoutMs: 5000,
    reconnect: true,
    backoffBaseMs: 100,
    backoffMaxMs: 400,
  });
}

test('the load generator counts the resets of its SSE and poll connections across a restart', { timeout: 60_000 }, async () => {
  const args = ['--workers', '1', '--interval', '60s', '--poll-wait', '5s'];
  const first = await startServerProcess(args);
  let server = first;
  const sse = await pool(first.port, 'sse', 20);
  const poll = await pool(first.port, 'poll', 20);
  try {
    sse.ramp(20, 0);
    poll.ramp(20, 0);
    await untilStatus(sse, '20 SSE active', (s) => s.active === 20, 15_000, 25);
    await waitFor('the server holds 40', async () => JSON.parse((await request(`${first.url}/stats`)).body).open.total === 40, 5000, SERVER_POLL);
    await request(`${first.url}/broadcast`, { method: 'POST', body: 'one' });
    await untilStatus(sse, '20 SSE messages', (s) => s.messages === 20, 15_000, 25);
    await untilStatus(poll, '20 poll answers', (s) => s.messages === 20, 15_000, 25);
    server = await restart(first, args);
    await untilStatus(sse, '20 SSE resets', (s) => s.resets === 20, 15_000, 25);
    await untilStatus(poll, '20 poll resets', (s) => s.resets === 20, 15_000, 25);
    await waitFor('all back', async () => JSON.parse((await request(`${server.url}/stats`)).body).open.total === 40, 10_000, SERVER_POLL);
    await request(`${server.url}/broadcast`, { method: 'POST', body: 'two' });
    await untilStatus(sse, '40 SSE messages', (s) => s.messages === 40, 15_000, 25);
    await untilStatus(poll, '40 poll answers', (s) => s.messages === 40, 15_000, 25);
    const stats = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.equal(stats.resets, 40);
  } finally {
    sse.stop();
    poll.stop();
    await server.stop();
  }
});

test('a send answered 404 is never delivered later by replay; a stream opened before a send never gets 404', { timeout: 30_000 }, async () => {
  const server = await startServerProcess(['--workers', '2', '--interval', '60s']);
  try {
    const s = await openStream(`${server.url}/sse/late`);
    await s.waitFor('Welcome');
    assert.equal((await send(server, 'late', 'seen')).status, 200);
    await s.waitFor(' seen\n');
    const cursor = lastId(s.text())!;
    s.close();
    await waitFor('logged out', async () => (await send(server, 'late', 'ghost')).status === 404, 3000, SERVER_POLL);
    const ghost = await send(server, 'late', 'ghost');
    assert.equal(ghost.status, 404);
    // the client resumes from before the 404s: it must get what it missed and was delivered (nothing), never a 404
    const back = await openStream(`${server.url}/sse/late`, { 'last-event-id': cursor });
    try {
      await back.waitFor('Welcome');
      assert.equal((await send(server, 'late', 'real')).status, 200);
      await back.waitFor(' real\n');
      assert.ok(!back.text().includes('ghost'), JSON.stringify(back.text()));
    } finally {
      back.close();
    }
    // 200 streams over 2 workers, each sent to as soon as its response head arrived: never 404
    const ids = Array.from({ length: 200 }, (_, i) => `fresh-${i}`);
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const st = await openStream(`${server.url}/sse/${id}`);
        try {
          return (await send(server, id, 'first')).status;
        } finally {
          st.close();
        }
      }),
    );
    assert.deepEqual([...new Set(statuses)], [200]);
  } finally {
    await server.stop();
  }
});
