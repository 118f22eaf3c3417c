/**
 * A client that stops reading must not make the server buffer without bound: once its unsent bytes pass
 * --max-queued the stream is dropped (reason `slow`), and other streams keep getting their messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { openStream, request, SERVER_POLL, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';

test('a stream that stops reading is dropped as slow; the others are unaffected', async () => {
  const server = await startServerProcess(['--workers', '1', '--max-queued', '65536', '--interval', '60s']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const stalled = net.connect(server.port, '127.0.0.1');
  try {
    stalled.on('error', () => {});
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write('GET /test/stalled HTTP/1.1\r\nHost: t\r\n\r\n');
    await new Promise<void>((resolve) => stalled.once('data', () => resolve()));
    stalled.pause(); // from here on the kernel buffers fill, then the server's queue
    const healthy = await openStream(`${server.url}/test/healthy`);
    await healthy.waitFor('Welcome');
    const body = 'x'.repeat(60_000);
    const post = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`${server.url}${path}`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    let dropped = false;
    for (let i = 0; i < 600 && !dropped; i++) dropped = (await post('/send/stalled')) === 404;
    assert.ok(dropped, 'the stalled stream was logged out');
    const stats = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.equal(stats.closed.slow, 1);
    assert.equal(await post('/send/healthy'), 200);
    await waitFor('healthy stream still served', () => healthy.text().length > 60_000, 5000, SERVER_POLL);
    healthy.close();
  } finally {
    stalled.destroy();
    agent.destroy();
    await server.stop();
  }
});
