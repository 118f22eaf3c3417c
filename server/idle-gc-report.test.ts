/**
 * /stats and /metrics say when the idle garbage collection ran (server/worker/idle-gc.ts: a memory-reducing full GC
 * once a burst of 1,000+ opens and closes has been quiet for 2 s, which drops a server's memory by megabytes after a
 * ramp): how many times and when last, per process and summed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request, SERVER_POLL, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';

interface Proc {
  role: string;
  idleGc: { count: number; lastAtMs: number };
}

test('a burst of 1,200 opens and closes, then quiet: idleGc counts the collection in every process and the sum', { timeout: 30_000 }, async () => {
  const server = await startServerProcess(['--workers', '1', '--interval', '60s']);
  try {
    const before = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.deepEqual(before.idleGc, { count: 0, lastAtMs: 0 });
    const t0 = Date.now();
    const sockets = await Promise.all(
      Array.from(
        { length: 600 },
        (_, i) =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(server.port, '127.0.0.1');
            s.on('error', () => {});
            s.once('data', () => resolve(s));
            s.write(`GET /test/burst-${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
          }),
      ),
    );
    for (const s of sockets) s.destroy();
    let stats = before;
    await waitFor(
      'an idle collection in the supervisor and the worker',
      async () => {
        stats = JSON.parse((await request(`${server.url}/stats`)).body);
        return stats.processes.every((p: Proc) => p.idleGc.count >= 1);
      },
      8000,
      SERVER_POLL,
    );
    const procs = stats.processes as Proc[];
    assert.equal(stats.idleGc.count, procs.reduce((n, p) => n + p.idleGc.count, 0));
    assert.equal(stats.idleGc.lastAtMs, Math.max(...procs.map((p) => p.idleGc.lastAtMs)));
    assert.ok(stats.idleGc.lastAtMs > t0 && stats.idleGc.lastAtMs <= Date.now());
    const metrics = (await request(`${server.url}/metrics`)).body;
    assert.match(metrics, /^comet_idle_gc_total\{role="worker",worker="0",pid="\d+"\} [1-9]/m);
    assert.match(metrics, /^comet_idle_gc_total\{role="supervisor",worker="",pid="\d+"\} [1-9]/m);
  } finally {
    await server.stop();
  }
});
