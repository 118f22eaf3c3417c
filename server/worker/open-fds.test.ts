import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { startServerProcess } from '../test-helpers.ts';

// The worker lists /proc/self/fd at most every 10 s and follows its streams in between (worker-counters.ts):
// /stats must still agree with the directory read here, both right after a listing and after streams came and went.

const listFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

async function openStreams(port: number, n: number): Promise<net.Socket[]> {
  const sockets = await Promise.all(
    Array.from({ length: n }, (_, i) => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(`GET /test/fd${i} HTTP/1.1\r\nHost: x\r\n\r\n`));
      s.once('data', () => resolve(s));
      s.once('error', reject);
    })),
  );
  return sockets;
}

test('open files per worker in /stats follow the streams and agree with /proc/<pid>/fd', async () => {
  const server = await startServerProcess(['--workers', '1', '--interval', '600s']);
  const held: net.Socket[] = [];
  try {
    const worker = async () => {
      const stats = (await (await fetch(`${server.url}/stats`)).json()) as { processes: Array<{ role: string; pid: number; openFds: number }> };
      return stats.processes.find((p) => p.role === 'worker')!;
    };
    const first = await worker();
    assert.ok(Math.abs(first.openFds - listFds(first.pid)) <= 2, `${first.openFds} vs ${listFds(first.pid)}`);

    held.push(...(await openStreams(server.port, 300)));
    const grown = await worker(); // within the 10 s: counted by following the streams
    assert.ok(Math.abs(grown.openFds - listFds(grown.pid)) <= 2, `${grown.openFds} vs ${listFds(grown.pid)}`);
    assert.ok(grown.openFds >= first.openFds + 300);

    for (const s of held.splice(0, 200)) s.destroy();
    const deadline = Date.now() + 5000;
    let shrunk = await worker();
    while (shrunk.openFds > grown.openFds - 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      shrunk = await worker();
    }
    assert.ok(Math.abs(shrunk.openFds - listFds(shrunk.pid)) <= 2, `${shrunk.openFds} vs ${listFds(shrunk.pid)}`);
  } finally {
    for (const s of held) s.destroy();
    await server.stop();
  }
});
