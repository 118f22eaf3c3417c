/**
 * The conformance suite every engine passes: the same requests, the same answers, decoded by real clients (Node's
 * http client and curl). Each engine runs as a real server process with one worker, short heartbeat, head timeout
 * and poll wait so the suite stays fast. Nothing is skipped for any engine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { parseSentAtMs } from '../../shared/message-format.ts';
import { ENGINE_NAMES } from './engine.ts';
import { openStream, rawExchange, request, SERVER_POLL, type ServerProcess, startServerProcess } from '../test-helpers.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';

function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'latin1' }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

/**
 * One table, every engine: each request and the RFC 9110/9112 answer chosen for it. 400 for a malformed head (RFC
 * 9112 3: a single SP between request-line parts; 3.2: exactly one Host in HTTP/1.1; 2.2: bare LF refused as llhttp
 * does; 5.2: no obs-fold; 6.1: not Content-Length with Transfer-Encoding), 505 for an HTTP version other than 1.0
 * and 1.1 (RFC 9110 15.6.6), 501 for a method the server does not implement (RFC 9110 9.1; methods are
 * case-sensitive), 413 at once for a declared body over the 64 KiB limit (RFC 9110 15.5.14), and the absolute form
 * served by its path (RFC 9112 3.2.2). A stream request with a body is 400: it has no meaning here.
 */
const CONFORMANCE: { name: string; send: string; status: number }[] = [
  { name: 'two spaces after the method', send: 'GET  /test/a HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'two spaces before the version', send: 'GET /test/a  HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'HTTP/2.0', send: 'GET /test/a HTTP/2.0\r\nHost: a\r\n\r\n', status: 505 },
  { name: 'HTTP/0.9', send: 'GET /test/a HTTP/0.9\r\nHost: a\r\n\r\n', status: 505 },
  { name: 'HTTP/1.2', send: 'GET /test/a HTTP/1.2\r\nHost: a\r\n\r\n', status: 505 },
  { name: 'HTTP/9.9', send: 'GET /test/a HTTP/9.9\r\nHost: a\r\n\r\n', status: 505 },
  { name: 'not an HTTP version', send: 'GET /test/a HTTPS/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'two Host fields', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', status: 400 },
  { name: 'HTTP/1.1 without Host', send: 'GET /test/a HTTP/1.1\r\n\r\n', status: 400 },
  { name: 'HTTP/1.0 without Host', send: 'GET /test/ten HTTP/1.0\r\n\r\n', status: 200 },
  { name: 'a GET stream with a body', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello', status: 400 },
  { name: 'a GET stream with a chunked body', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400 },
  { name: 'Content-Length and Transfer-Encoding', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', status: 400 },
  { name: 'bare LF line ends', send: 'GET /test/x HTTP/1.1\nHost: a\n\n', status: 400 },
  { name: 'one bare LF among CRLFs', send: 'GET /test/x HTTP/1.1\r\nHost: a\n\r\n', status: 400 },
  { name: 'obs-fold', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', status: 400 },
  { name: 'a space in a field name', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', status: 400 },
  { name: 'NUL in a field value', send: 'GET /test/a HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n', status: 400 },
  { name: 'a lower-case method', send: 'get /test/a HTTP/1.1\r\nHost: a\r\n\r\n', status: 501 },
  { name: 'an unknown method', send: 'FOO /test/a HTTP/1.1\r\nHost: a\r\n\r\n', status: 501 },
  { name: 'the absolute form', send: 'GET http://a/test/abs HTTP/1.1\r\nHost: a\r\n\r\n', status: 200 },
  { name: 'a declared 10 GB body, none sent', send: 'POST /send/x HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000000\r\n\r\n', status: 413 },
  { name: 'a bad escape in the id', send: 'GET /test/%E0%A4%A HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'an unknown path', send: 'GET /nothing/here HTTP/1.1\r\nHost: a\r\n\r\n', status: 404 },
];

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  request(url, { method: 'POST', body, headers: { 'content-type': 'text/plain', ...headers } });

for (const engine of ENGINE_NAMES) {
  describe(`engine ${engine}`, () => {
    let server: ServerProcess;
    before(async () => {
      server = await startServerProcess(
        ['--engine', engine, '--workers', '1', '--interval', '300ms', '--headers-timeout', '600ms', '--poll-wait', '400ms'],
        { COMET_ADMIN_TOKEN: '' },
      );
    });
    after(async () => {
      await server?.stop();
    });

    test('GET /test/:id streams chunked text: welcome, then Chunk N for ID <id> counting from 1', async () => {
      const s = await openStream(`${server.url}/test/alice`);
      try {
        assert.equal(s.res.statusCode, 200);
        assert.equal(s.res.headers['transfer-encoding'], 'chunked');
        assert.equal(s.res.headers['content-type'], 'text/html; charset=utf-8');
        assert.match(String(s.res.headers.server), /comet-lab/);
        const text = await s.waitFor('Chunk 2 for ID alice\n', 3000);
        assert.equal(text, 'Welcome to comet-lab, alice\nChunk 1 for ID alice\nChunk 2 for ID alice\n');
      } finally {
        s.close();
      }
    });

    test('the chunk framing is exact on the wire: one HTTP chunk per event', async () => {
      const { text } = await rawExchange(server.port, 'GET /test/bob HTTP/1.1\r\nHost: x\r\n\r\n', 500);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      assert.ok(body.startsWith('1a\r\nWelcome to comet-lab, bob\n\r\n'), JSON.stringify(body));
      assert.ok(body.includes('13\r\nChunk 1 for ID bob\n\r\n'), JSON.stringify(body));
    });

    test('curl decodes the stream without complaint (only its own --max-time stops it)', async () => {
      const r = await curl(['-sS', '-N', '--max-time', '0.8', '-D', '-', `${server.url}/test/carol`]);
      assert.equal(r.code, 28, 'exit 28 is curl reaching --max-time; 18 or 56 would be a framing error');
      assert.match(r.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(r.stdout, /\r\n\r\nWelcome to comet-lab, carol\nChunk 1 for ID carol\n/);
    });

    test('POST /send/:id delivers the body as one chunk with a parseable send timestamp', async () => {
      const s = await openStream(`${server.url}/test/dave`);
      try {
        await s.waitFor('Welcome');
        const r = await post(`${server.url}/send/dave`, 'hello dave');
        assert.equal(r.status, 200, r.body);
        const json = JSON.parse(r.body) as { delivered: number; sentAtMs: number; seq: number };
        assert.equal(json.delivered, 1);
        const text = await s.waitFor(/@[\d.]+ hello dave\n/);
        const line = Buffer.from(text.split('\n').find((l) => l.endsWith('hello dave'))!);
        const at = parseSentAtMs(line, 0, line.length);
        assert.ok(Math.abs(at - json.sentAtMs) < 0.01, `${at} vs ${json.sentAtMs}`);
        assert.ok(Date.now() - at < 5000);
      } finally {
        s.close();
      }
    });

    test('send to an id with no stream is 404 JSON; broadcast reaches every stream', async () => {
      const none = await post(`${server.url}/send/nobody-here`, 'x');
      assert.equal(none.status, 404);
      assert.equal(JSON.parse(none.body).delivered, 0);
      const a = await openStream(`${server.url}/test/b1`);
      const b = await openStream(`${server.url}/test/b2`);
      try {
        await Promise.all([a.waitFor('Welcome'), b.waitFor('Welcome')]);
        const r = await post(`${server.url}/broadcast`, 'to all');
        assert.equal(r.status, 200);
        assert.ok(JSON.parse(r.body).delivered >= 2);
        await Promise.all([a.waitFor(' to all\n'), b.waitFor(' to all\n')]);
      } finally {
        a.close();
        b.close();
      }
    });

    test('HEAD answers the stream headers with no body', async () => {
      const r = await request(`${server.url}/test/erin`, { method: 'HEAD' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(r.body, '');
    });

    test('status codes: unknown path 404, other method 501, bad id 400', async () => {
      assert.equal((await request(`${server.url}/nothing/here`)).status, 404);
      assert.equal((await request(`${server.url}/test/frank`, { method: 'PUT' })).status, 501);
      assert.equal((await request(`${server.url}/test/frank`, { method: 'DELETE' })).status, 501);
      for (const bad of ['/test/', '/test/a%20b', '/test/a.b', `/test/${'x'.repeat(65)}`, '/sse/a$b']) {
        const r = await request(`${server.url}${bad}`);
        assert.equal(r.status, 400, bad);
        assert.equal(JSON.parse(r.body).error, 'bad_request');
      }
      assert.equal((await post(`${server.url}/send/bad.id`, 'x')).status, 400);
    });

    test('the conformance table: every engine gives each of these requests the same answer, at once', async () => {
      for (const row of CONFORMANCE) {
        const r = await rawExchange(server.port, row.send, row.status === 200 ? 700 : 2000);
        const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(r.text)?.[1] ?? 0);
        assert.equal(status, row.status, `${row.name}: ${JSON.stringify(r.text.slice(0, 120))}`);
        if (row.status === 200) {
          assert.match(r.text, /Welcome to comet-lab, /, `${row.name}: streamed`);
        } else {
          assert.ok(r.closed, `${row.name}: the connection is closed after the error`);
          assert.ok(r.ms < 1000, `${row.name}: answered after ${r.ms} ms, not at once`);
        }
      }
      // express printed a whole URIError stack for /test/%E0%A4%A: now at most one line, and no stack frames
      assert.doesNotMatch(server.stderr(), /^\s+at /m, server.stderr());
    });

    test('keep-alive: an API request then a stream request on the same connection gets the stream', async () => {
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      try {
        socket.write('GET /health HTTP/1.1\r\nHost: a\r\n\r\n');
        await waitFor('/health answered', () => /\r\n\r\n\{"status":"ok".*\}$/.test(text), 3000, SERVER_POLL);
        const afterHealth = text.length;
        socket.write('GET /test/keep HTTP/1.1\r\nHost: a\r\n\r\n');
        await waitFor(`the stream after /health (got ${JSON.stringify(text)})`, () => text.includes('Welcome to comet-lab, keep'), 3000, SERVER_POLL);
        assert.match(text.slice(afterHealth), /^HTTP\/1\.1 200 OK\r\n[^]*Transfer-Encoding: chunked\r\n/);
      } finally {
        socket.destroy();
      }
    });

    test('resume from another server run: SSE gets event: reset with this run\'s start, a poll 205', async () => {
      const foreign = 'zzzzzzzz-7';
      const s = await openStream(`${server.url}/sse/rita`, { 'last-event-id': foreign });
      try {
        const text = await s.waitFor(/event: reset\nid: [0-9a-z]{8}-0\ndata: [0-9a-z]{8}\n\n/);
        const epoch = /id: ([0-9a-z]{8})-0/.exec(text)![1]!;
        assert.notEqual(epoch, 'zzzzzzzz');
        const sent = JSON.parse((await post(`${server.url}/send/rita`, 'after reset')).body);
        assert.equal(sent.delivered, 1, 'a send to the resumed stream is delivered, never 404');
        await s.waitFor(`id: ${epoch}-${sent.seq}\ndata: @`);
      } finally {
        s.close();
      }
      const poll = await request(`${server.url}/poll/rita`, { headers: { 'last-event-id': foreign } });
      assert.equal(poll.status, 205);
      assert.match(String(poll.headers['comet-event-id']), /^[0-9a-z]{8}-0$/);
      assert.equal(poll.headers['comet-reset'], 'epoch');
      assert.equal(poll.body, '');
    });

    test('headers over 8 KiB are 431', async () => {
      const r = await request(`${server.url}/test/gina`, { headers: { 'x-big': 'a'.repeat(9000) } });
      assert.equal(r.status, 431);
    });

    test('a body over 64 KiB is 413', async () => {
      const r = await post(`${server.url}/send/gina`, 'a'.repeat(64 * 1024 + 1));
      assert.equal(r.status, 413);
    });

    test('a client that does not finish its head in time is dropped (slowloris)', async () => {
      const r = await rawExchange(server.port, 'GET /test/slow HTTP/1.1\r\nHost: x\r\nX-a: b\r\n', 4000);
      assert.ok(r.closed, 'closed by the server');
      assert.ok(r.ms < 3000, `closed after ${r.ms} ms`);
    });

    test('SSE: events carry ids and a reconnect with Last-Event-ID gets what it missed, once, in order', async () => {
      const s = await openStream(`${server.url}/sse/sam`);
      let firstId: string;
      try {
        assert.equal(s.res.headers['content-type'], 'text/event-stream; charset=utf-8');
        await s.waitFor('data: Welcome to comet-lab, sam\n\n');
        const ids: string[] = [];
        for (const m of ['m1', 'm2', 'm3']) ids.push(JSON.parse((await post(`${server.url}/send/sam`, m)).body).eventId);
        await s.waitFor(' m3\n\n');
        firstId = ids[0]!;
        assert.match(firstId, /^[0-9a-z]{8}-\d+$/, 'positions are <epoch>-<seq>');
        assert.match(s.text(), new RegExp(`id: ${firstId}\ndata: @[\\d.]+ m1\n\n`));
      } finally {
        s.close();
      }
      const again = await openStream(`${server.url}/sse/sam`, { 'last-event-id': firstId });
      try {
        const text = await again.waitFor(' m3\n\n');
        assert.ok(!text.includes(' m1\n'), 'm1 was seen already');
        assert.ok(text.indexOf(' m2\n') < text.indexOf(' m3\n'));
        assert.equal(text.split(' m2\n').length, 2, 'm2 exactly once');
      } finally {
        again.close();
      }
    });

    test('long-poll: 204 after the wait, 200 with the message when one arrives, resume by event id', async () => {
      const t0 = Date.now();
      const empty = await request(`${server.url}/poll/pat`);
      assert.equal(empty.status, 204);
      assert.ok(Date.now() - t0 >= 300, `204 after ${Date.now() - t0} ms`);
      const waiting = request(`${server.url}/poll/pat`);
      await waitFor('poll logged in', async () => (await post(`${server.url}/send/pat`, 'p1')).status === 200, 3000, SERVER_POLL);
      const got = await waiting;
      assert.equal(got.status, 200);
      assert.match(got.body, /^@[\d.]+ p1\n$/);
      const id = String(got.headers['comet-event-id']);
      assert.match(id, /^[0-9a-z]{8}-[1-9]\d*$/);
      // two messages while no poll is waiting: kept for the poller (202), and its next poll naming its last event
      // gets both, in order
      for (const m of ['p2', 'p3']) {
        const r = await post(`${server.url}/send/pat`, m);
        assert.equal(r.status, 202, r.body);
        assert.equal(JSON.parse(r.body).queued, true);
      }
      const resumed = await request(`${server.url}/poll/pat`, { headers: { 'last-event-id': id } });
      assert.equal(resumed.status, 200);
      assert.match(resumed.body, /^@[\d.]+ p2\n@[\d.]+ p3\n$/);
    });

    test('a client that vanishes mid-stream is logged out', async () => {
      const s = await openStream(`${server.url}/test/ghost`);
      await s.waitFor('Welcome');
      s.close();
      await waitFor('ghost logged out', async () => (await post(`${server.url}/send/ghost`, 'x')).status === 404, 3000, SERVER_POLL);
      const stats = JSON.parse((await request(`${server.url}/stats`)).body);
      assert.equal(stats.engine, engine);
      assert.ok(stats.closed.client >= 1);
    });
  });
}
