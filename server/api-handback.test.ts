/**
 * A keep-alive connection that asks the API first and a stream next (`GET /health`, then `GET /test/<id>` or a
 * WebSocket upgrade) goes back from the supervisor to a worker; once it has, it no longer counts as an API connection
 * (Node's child.send(..., socket) never emits 'close' on the socket it sends: each one held a place of the API cap
 * for good, and past the 8 places a 40-connection cap leaves other requests they were answered 503).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request, startServerProcess } from './test-helpers.ts';

/** Writes `bytes` on `socket` and resolves with what it received once `done(text)` holds (3 s at most). */
function exchange(socket: net.Socket, bytes: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 30))}; got ${JSON.stringify(text)}`)), 3000);
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (done(text)) finish();
    };
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      if (err) reject(err);
      else resolve(text);
    };
    socket.on('data', onData);
    socket.write(bytes);
  });
}

const stats = async (url: string) => JSON.parse((await request(`${url}/stats`)).body) as { apiConnections: { open: number; cap: number } };

for (const engine of ['raw', 'net']) {
  test(`${engine} engine: 60 keep-alive connections going from GET /health to a stream leave no API connection behind`, { timeout: 30_000 }, async () => {
    const server = await startServerProcess(['--workers', '1', '--engine', engine, '--max-api-connections', '40', '--interval', '60s']);
    const sockets: net.Socket[] = [];
    try {
      const baseline = (await stats(server.url)).apiConnections.open;
      for (let i = 0; i < 60; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
        await new Promise((r) => s.once('connect', r));
        const health = await exchange(s, 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.includes('}'));
        assert.match(health, /^HTTP\/1\.1 200 /, `connection ${i}: /health`);
        if (i % 3 === 2) {
          const key = Buffer.from(`handback-key-${i}`.padEnd(16, '-').slice(0, 16)).toString('base64');
          const up = await exchange(s, `GET /ws/h${i} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`, (t) => t.includes(`Welcome to comet-lab, h${i}`));
          assert.match(up, /^HTTP\/1\.1 101 /, `connection ${i}: the upgrade`);
        } else {
          const stream = await exchange(s, `GET /test/h${i} HTTP/1.1\r\nHost: a\r\n\r\n`, (t) => t.includes(`Welcome to comet-lab, h${i}`));
          assert.match(stream, /^HTTP\/1\.1 200 /, `connection ${i}: the stream`);
        }
      }
      const after = await stats(server.url);
      assert.equal(after.apiConnections.open, baseline, `API connections open after 60 hand-backs (cap ${after.apiConnections.cap})`);
      // and the places are free: a send is answered, not refused with 503
      const got = exchange(sockets[0]!, '', (t) => t.includes('still room'));
      assert.equal((await request(`${server.url}/send/h0`, { method: 'POST', body: 'still room' })).status, 200);
      await got; // the stream handed back still reads its messages
    } finally {
      for (const s of sockets) s.destroy();
      await server.stop();
    }
  });
}
