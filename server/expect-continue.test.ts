/**
 * `POST /send/:id` with `Expect: 100-continue`, from Node's http client, which sends the body only after
 * `100 Continue`: on every engine's API path (the supervisor's lean path for raw-engine connections, node:http for
 * the net engine's) the client is told to go on at once, and the message is delivered exactly once. The lean path
 * once never answered 100 and each such send waited for the client's expect timeout (curl: 1 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { openStream, request, sleep, startServerProcess } from './test-helpers.ts';

interface Answer {
  status: number;
  body: string;
  continues: number;
  continueMs: number;
}

/** A send whose body goes out only on 'continue'; fails after 3 s without an answer. */
function sendAfterContinue(url: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let continues = 0;
    let continueMs = -1;
    const req = http.request(url, { method: 'POST', agent: false, headers: { expect: '100-continue', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: text, continues, continueMs });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer in 3 s (100 Continue seen ${continues} times)`));
    }, 3000);
    req.on('continue', () => {
      if (continues++ === 0) {
        continueMs = Date.now() - t0;
        req.end(body);
      }
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

for (const engine of ['raw', 'net']) {
  test(`${engine} engine: a send with Expect: 100-continue is told to continue at once and delivered once`, { timeout: 20_000 }, async () => {
    const server = await startServerProcess(['--workers', '1', '--engine', engine, '--interval', '60s']);
    try {
      const stream = await openStream(`${server.url}/test/ex`);
      await stream.waitFor('Welcome to comet-lab, ex');
      for (let i = 0; i < 3; i++) {
        const a = await sendAfterContinue(`${server.url}/send/ex`, `after continue ${i} é`);
        assert.equal(a.status, 200, a.body);
        assert.equal(JSON.parse(a.body).delivered, 1);
        assert.equal(a.continues, 1, '100 Continue once');
        assert.ok(a.continueMs >= 0 && a.continueMs < 500, `100 Continue after ${a.continueMs} ms`);
      }
      await stream.waitFor(' after continue 2 é\n');
      await sleep(100);
      for (let i = 0; i < 3; i++) assert.equal(stream.text().split(` after continue ${i} é\n`).length - 1, 1, `message ${i} exactly once`);
      // an expectation the server does not meet is refused, as RFC 9110 10.1.1 asks
      const other = await request(`${server.url}/send/ex`, { method: 'POST', body: 'x', headers: { expect: 'something-else' } });
      assert.equal(other.status, 417);
      stream.close();
    } finally {
      await server.stop();
    }
  });
}
