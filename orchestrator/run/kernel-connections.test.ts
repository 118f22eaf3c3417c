/**
 * The kernel's count of a server's connections, against real sockets: both readers (ss and /proc/net/tcp) agree
 * with what the test opened, count only the listed peers when asked, and `ss` reads the same figure the test reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { countInProcNetTcp, KernelConnectionCounter } from './kernel-connections.ts';
import { freePortBelow } from '../backends/local/free-port.ts';

async function open(port: number, localAddress: string, n: number): Promise<net.Socket[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    await once(s, 'connect');
    return s;
  }));
}

test('ss and /proc/net/tcp count the established connections on the port, from the listed peers only when asked', async () => {
  const accepted: net.Socket[] = [];
  // Below the ephemeral range: a port of that range can also be some client socket's local port elsewhere on the host.
  const port = await freePortBelow(Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]));
  const server = net.createServer((s) => accepted.push(s)).listen(port, '127.0.0.1');
  await once(server, 'listening');
  const clients = [...(await open(port, '127.0.1.1', 30)), ...(await open(port, '127.0.0.1', 10))];
  try {
    while (accepted.length < 40) await new Promise((r) => setTimeout(r, 10));
    const all = new KernelConnectionCounter({ port });
    const fromLoadgen = new KernelConnectionCounter({ port, peers: ['127.0.1.1'] });
    assert.equal(await all.count(), 40);
    assert.equal(all.method, 'sock_diag (ss)');
    assert.equal(await fromLoadgen.count(), 30);
    const proc = (peers?: string[]) => countInProcNetTcp(readFileSync('/proc/net/tcp', 'latin1'), port, peers) + countInProcNetTcp(readFileSync('/proc/net/tcp6', 'latin1'), port, peers);
    assert.equal(proc(), 40);
    assert.equal(proc(['127.0.1.1']), 30);
    // The test's own reading: ss with the filter written out here.
    const ss = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    assert.equal(ss, 40);
    const s = await fromLoadgen.sample();
    assert.equal(s.connections, 30);
    assert.ok(Date.now() - s.atMs < 1000);
    for (const c of clients.slice(0, 15)) c.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await fromLoadgen.count(), 15);
  } finally {
    for (const c of clients) c.destroy();
    server.close();
    for (const s of accepted) s.destroy();
  }
});

test('a count slower than the sample budget does not hold the sample: the last count stands, with its age, until the new one lands', async () => {
  // The counting itself slowed down as it is at 1,000,000 held (ss took up to 38 s there); the waiting is what is tested.
  let counts = 0;
  class SlowCounter extends KernelConnectionCounter {
    override async count(): Promise<number> {
      counts++;
      await new Promise((r) => setTimeout(r, counts === 1 ? 0 : 600));
      return counts * 100;
    }
  }
  const counter = new SlowCounter({ port: 1 });
  const first = await counter.sample('hold', 100);
  assert.equal(first.connections, 100, 'the first count is waited for: there is nothing older');
  const t0 = Date.now();
  const second = await counter.sample('ramp', 100); // a new phase: a fresh count starts, slower than the budget
  assert.ok(Date.now() - t0 < 400, `returned after ${Date.now() - t0} ms`);
  assert.equal(second.connections, 100, 'the last count stands while the new one is out');
  assert.equal(second.atMs, first.atMs, 'and says how old it is');
  const third = await counter.sample('ramp', 100); // still out: not started twice
  assert.equal(third.connections, 100);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await counter.sample('ramp', 100)).connections, 200, 'the slow count landed and is used');
  assert.equal(counts, 2, 'one count at a time');
});
