/** The load generator against comet-lab's own server (server/cli.ts): chunked, SSE, long-poll, WebSocket; restart survived. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { LoadgenStatus, ServerStats, Transport } from '../shared/contracts.ts';
import { startServerProcess, type ServerProcess } from '../server/test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { getJson, postJson } from './bench/bench-support.ts';
import { createPool } from './pool-spec.ts';
import type { ConnectionPool } from './pool.ts';
import { untilStatus } from './testing/pool-harness.ts';

async function pool(port: number, transport: Transport, capacity: number, reconnect = false, sourceAddresses: string[] = []): Promise<ConnectionPool> {
  const path = { chunked: 'test', sse: 'sse', poll: 'poll', ws: 'ws' }[transport];
  return createPool({
    template: `http://127.0.0.1:${port}/${path}/lg{i}`,
    firstIndex: 0,
    capacity,
    transport,
    sourceAddresses,
    portRange: [32768, 60999],
    maxConnecting: 500,
    connectTimeoutMs: 5000,
    reconnect,
    backoffBaseMs: 100,
    backoffMaxMs: 500,
  });
}

/** Established connections from `source` to `port`, as ss sees them (the test's own API calls come from 127.0.0.1). */
function ssEstablished(port: number, source: string): number {
  return execFileSync('ss', ['-Htan', 'state', 'established', `( dport = :${port} and src ${source} )`], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '').length;
}

async function withServer(args: string[], fn: (s: ServerProcess) => Promise<void>): Promise<void> {
  const server = await startServerProcess(args);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

test('chunked: counts agree with the server /stats and ss; heartbeats are chunks; a broadcast is a message each', { timeout: 60_000 }, async () => {
  await withServer(['--workers', '2', '--interval', '200ms'], async (server) => {
    const p = await pool(server.port, 'chunked', 300, false, ['127.0.0.2']);
    try {
      p.ramp(300, 3000);
      await untilStatus(p, '300 active', (s) => s.active === 300, 10_000, 50);
      const stats = await getJson<ServerStats>(`${server.url}/stats`);
      assert.equal(stats.open.total, 300);
      assert.equal(stats.open.chunked, 300);
      assert.equal(ssEstablished(server.port, '127.0.0.2'), 300);
      const before = p.status().chunks;
      await untilStatus(p, 'heartbeats', (s) => s.chunks >= before + 600, 10_000, 50);
      p.resetLatency();
      const sent = await postJson<{ delivered: number }>(`${server.url}/broadcast`, 'hello everyone');
      assert.equal(sent.delivered, 300);
      await untilStatus(p, '300 messages', (s) => s.messages === 300, 10_000, 50);
      const s = p.status();
      assert.equal(s.latencyMs.count, 300);
      assert.ok(s.lastMessageAtMs > 0);
      assert.ok(s.latencyMs.max < 2000, JSON.stringify(s.latencyMs));
    } finally {
      p.stop();
    }
  });
});

test('SSE and long-poll against the server: broadcasts arrive; polls are re-sent after each answer', { timeout: 60_000 }, async () => {
  await withServer(['--workers', '1', '--interval', '200ms', '--poll-wait', '500ms'], async (server) => {
    const sse = await pool(server.port, 'sse', 40);
    const poll = await pool(server.port, 'poll', 40);
    try {
      sse.ramp(40, 0);
      poll.ramp(40, 0);
      await untilStatus(sse, '40 SSE active', (s) => s.active === 40, 10_000, 50);
      await untilStatus(poll, '40 polls active', (s) => s.active === 40, 10_000, 50);
      await waitFor('server sees 80', async () => (await getJson<ServerStats>(`${server.url}/stats`)).open.total === 80, 5000, { everyMs: 50 });
      await postJson(`${server.url}/broadcast`, 'one');
      await untilStatus(sse, '40 SSE messages', (s) => s.messages === 40, 10_000, 50);
      await untilStatus(poll, '40 poll answers', (s) => s.messages === 40 && s.chunks === 40, 10_000, 50);
      // Past the poll wait: 204s come back and every client polls again on its connection.
      await new Promise((r) => setTimeout(r, 800));
      await postJson(`${server.url}/broadcast`, 'two');
      await untilStatus(poll, '80 poll answers', (s) => s.messages === 80, 10_000, 50);
      assert.equal(poll.status().active, 40);
      assert.equal(poll.status().closed, 0);
    } finally {
      sse.stop();
      poll.stop();
    }
  });
});

test('with --reconnect, a server restart on the same port is survived', { timeout: 60_000 }, async () => {
  let port = 0;
  await withServer(['--workers', '1', '--interval', '1s'], async (server) => {
    port = server.port;
    const p = await pool(port, 'chunked', 100, true);
    try {
      p.ramp(100, 0);
      await untilStatus(p, '100 active', (s) => s.active === 100, 10_000, 50);
      await server.stop();
      await untilStatus(p, '100 closed', (s) => s.closed === 100, 10_000, 50);
      const again = await startServerProcess(['--workers', '1', '--interval', '1s', '--port', String(port)]).catch(async () => {
        // The port may be briefly taken: say so plainly.
        throw new Error(`could not restart the server on port ${port}`);
      });
      try {
        await untilStatus(p, '100 active again', (s) => s.active === 100, 15_000, 50);
        assert.equal((await getJson<ServerStats>(`${again.url}/stats`)).open.total, 100);
      } finally {
        await again.stop();
      }
    } finally {
      p.stop();
    }
  });
});

test('WebSocket: counts agree with /stats and ss; heartbeat frames are units; a shutdown is close 1001; --reconnect comes back', { timeout: 60_000 }, async () => {
  let port = 0;
  const p = await (async () => {
    const server = await startServerProcess(['--workers', '2', '--interval', '300ms']);
    port = server.port;
    const wsPool = await pool(port, 'ws', 300, true, ['127.0.0.3']);
    try {
      wsPool.ramp(300, 3000);
      await untilStatus(wsPool, '300 active', (s) => s.active === 300, 10_000, 50);
      const stats = await getJson<ServerStats>(`${server.url}/stats`);
      assert.equal(stats.open.ws, 300);
      assert.equal(stats.open.total, 300);
      assert.equal(ssEstablished(port, '127.0.0.3'), 300);
      const before = wsPool.status().chunks;
      await untilStatus(wsPool, 'heartbeat frames', (s) => s.chunks >= before + 600, 10_000, 50);
      wsPool.resetLatency();
      assert.equal((await postJson<{ delivered: number }>(`${server.url}/broadcast`, 'hello ws')).delivered, 300);
      await untilStatus(wsPool, '300 messages', (s) => s.messages === 300, 10_000, 50);
      assert.ok(wsPool.status().latencyMs.max < 2000, JSON.stringify(wsPool.status().latencyMs));
      await server.stop();
      await untilStatus(wsPool, '300 closed by 1001', (s) => s.closed === 300, 10_000, 50);
      const s = wsPool.status() as LoadgenStatus & { wsCloseCodes: Record<string, number> };
      assert.deepEqual(s.wsCloseCodes, { 1001: 300 });
      assert.equal(s.errors.ws_close, 0, 'going away is a clean end');
      return wsPool;
    } catch (err) {
      wsPool.stop();
      await server.stop();
      throw err;
    }
  })();
  try {
    const again = await startServerProcess(['--workers', '1', '--interval', '1s', '--port', String(port)]);
    try {
      await untilStatus(p, '300 active again', (s) => s.active === 300, 15_000, 50);
      assert.equal((await getJson<ServerStats>(`${again.url}/stats`)).open.ws, 300);
    } finally {
      await again.stop();
    }
  } finally {
    p.stop();
  }
});
