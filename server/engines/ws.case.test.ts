/**
 * The WebSocket conformance suite every engine passes (`GET /ws/:id`, RFC 6455): the `ws` library's client (a real
 * implementation no one here wrote) for what a user relies on, and a raw-socket client (server/ws-test-client.ts)
 * for the exact bytes and for the frames a library would never send. Each engine runs as a real server process
 * with one worker; the last test of each stops it with SIGTERM and expects close 1001. Routing across workers
 * (exactly once, in order) has its own two-worker server at the end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { parseSentAtMs } from '../../shared/message-format.ts';
import { openStream, request, SERVER_POLL, type ServerProcess, startServerProcess } from '../test-helpers.ts';
import { clientFrame, closeCode, openRawWs } from '../ws-test-client.ts';
import { ENGINE_NAMES } from './engine.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';

const post = (url: string, body: string) => request(url, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });

/** A `ws` client that records its text messages. */
interface Client {
  ws: WebSocket;
  texts: string[];
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}

function connect(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const texts: string[] = [];
    const waiters = new Set<() => void>();
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
    ws.on('message', (data, binary) => {
      assert.equal(binary, false, 'every frame is a text frame');
      texts.push(String(data));
      for (const w of [...waiters]) w();
    });
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        texts,
        closed,
        waitFor(pattern, timeoutMs = 5000) {
          const find = () => texts.find((t) => (typeof pattern === 'string' ? t === pattern : pattern.test(t)));
          const now = find();
          if (now !== undefined) return Promise.resolve(now);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`no ${pattern} in ${timeoutMs} ms; got ${JSON.stringify(texts)}`)), timeoutMs);
            const w = () => {
              const t = find();
              if (t === undefined) return;
              clearTimeout(timer);
              waiters.delete(w);
              ok(t);
            };
            waiters.add(w);
          });
        },
      }),
    );
  });
}

for (const engine of ENGINE_NAMES) {
  describe(`engine ${engine}: WebSocket`, () => {
    let server: ServerProcess;
    let wsUrl: string;
    before(async () => {
      server = await startServerProcess(['--engine', engine, '--workers', '1', '--interval', '300ms'], { COMET_ADMIN_TOKEN: '' });
      wsUrl = `ws://127.0.0.1:${server.port}/ws`;
    });
    after(async () => {
      await server?.stop();
    });

    test('the handshake and the first frames are exact on the wire: 101, the accept key, unmasked text frames', async () => {
      const c = await openRawWs(server.port, '/ws/wire');
      try {
        assert.equal(c.status, 101, c.head);
        assert.match(c.head, /\r\nupgrade: websocket\r\n/i);
        assert.match(c.head, /\r\nconnection: upgrade\r\n/i);
        assert.ok(c.head.includes(`\r\nSec-WebSocket-Accept: ${c.expectedAccept}`), c.head);
        const hb = await c.waitFrame((f) => f.payload.toString() === 'Chunk 1 for ID wire', 3000);
        const first = c.frames[0]!;
        assert.deepEqual([first.fin, first.rsv, first.masked, first.opcode], [true, 0, false, 1]);
        assert.equal(first.payload.toString(), 'Welcome to comet-lab, wire');
        assert.deepEqual([hb.fin, hb.masked, hb.opcode], [true, false, 1]);
      } finally {
        c.destroy();
      }
    });

    test('ws client: welcome, heartbeats from 1, a routed send with its stamp, a broadcast to ws and chunked alike', async () => {
      const a = await connect(`${wsUrl}/amy`);
      const chunked = await openStream(`${server.url}/test/amy`);
      try {
        await a.waitFor('Welcome to comet-lab, amy');
        await a.waitFor('Chunk 2 for ID amy', 3000);
        assert.deepEqual(a.texts.slice(0, 3), ['Welcome to comet-lab, amy', 'Chunk 1 for ID amy', 'Chunk 2 for ID amy']);
        const sent = await post(`${server.url}/send/amy`, 'hello amy ✓');
        assert.equal(sent.status, 200, sent.body);
        const json = JSON.parse(sent.body) as { delivered: number; sentAtMs: number };
        assert.equal(json.delivered, 2, 'the ws stream and the chunked stream of the id');
        const text = await a.waitFor(/ hello amy ✓$/);
        const line = Buffer.from(text);
        assert.ok(Math.abs(parseSentAtMs(line, 0, line.length) - json.sentAtMs) < 0.01, text);
        await chunked.waitFor(' hello amy ✓\n');
        const all = await post(`${server.url}/broadcast`, 'to everyone');
        assert.equal(all.status, 200);
        await a.waitFor(/^@[\d.]+ to everyone$/);
        await chunked.waitFor(' to everyone\n');
      } finally {
        a.ws.terminate();
        chunked.close();
      }
    });

    test('ping is answered with pong; a client close gets a close reply and the stream is logged out', async () => {
      const c = await connect(`${wsUrl}/pat`);
      await c.waitFor('Welcome to comet-lab, pat');
      const pong = new Promise<string>((r) => c.ws.once('pong', (d) => r(String(d))));
      c.ws.ping('are you there');
      assert.equal(await pong, 'are you there');
      c.ws.close(1000, 'done');
      const closed = await c.closed;
      assert.equal(closed.code, 1000, 'the server echoed the code');
      await waitFor('pat logged out', async () => (await post(`${server.url}/send/pat`, 'x')).status === 404, 3000, SERVER_POLL);
      const stats = JSON.parse((await request(`${server.url}/stats`)).body);
      assert.ok(stats.closed.client >= 1);
      assert.equal(stats.open.ws, 0);
    });

    test('bad handshakes: 426 without an upgrade or with another version, 400 for a bad key, id, or HTTP/1.0', async () => {
      const plain = await request(`${server.url}/ws/x`);
      assert.equal(plain.status, 426);
      assert.equal(plain.headers.upgrade, 'websocket');
      assert.equal(JSON.parse(plain.body).error, 'upgrade_required');
      const upgrade = (more: string) => `Upgrade: websocket\r\nConnection: Upgrade\r\n${more}`;
      const cases: Array<[string, string, number, RegExp?]> = [
        ['/ws/x', upgrade('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n'), 426, /\r\nsec-websocket-version: 13\r\n/i],
        ['/ws/x', upgrade('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'), 426, /\r\nsec-websocket-version: 13\r\n/i],
        ['/ws/x', upgrade('Sec-WebSocket-Version: 13\r\n'), 400],
        ['/ws/x', upgrade('Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n'), 400],
        ['/ws/a.b', upgrade('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'), 400],
        ['/ws/x', 'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n', 400],
      ];
      for (const [path, headers, status, header] of cases) {
        const c = await openRawWs(server.port, path, { headers });
        assert.equal(c.status, status, `${path} ${JSON.stringify(headers)}: ${c.head}`);
        if (header) assert.match(`${c.head}\r\n`, header);
        await c.closed;
      }
      const old = await openRawWs(server.port, '/ws/x', { httpVersion: '1.0' });
      assert.equal(old.status, 400, old.head);
    });

    test('bad client frames close with the RFC code, the worker survives, other streams are untouched', async () => {
      const bystander = await connect(`${wsUrl}/bystander`);
      await bystander.waitFor('Welcome to comet-lab, bystander');
      const cases: Array<[string, Buffer, number]> = [
        ['unmasked frame', clientFrame(1, 'hi', { mask: false }), 1002],
        ['reserved bit', clientFrame(1, 'hi', { rsv: 4 }), 1002],
        ['unknown opcode', clientFrame(3, 'hi'), 1002],
        ['fragmented ping', clientFrame(9, 'hi', { fin: false }), 1002],
        ['continuation of nothing', clientFrame(0, 'hi'), 1002],
        ['close with a reserved code', clientFrame(8, Buffer.from([0x03, 0xed])), 1002],
        ['bad UTF-8 in a text frame', clientFrame(1, Buffer.from([0x68, 0xc3, 0x28])), 1007],
        ['bad UTF-8 across fragments', Buffer.concat([clientFrame(1, Buffer.from([0x68, 0xe2]), { fin: false }), clientFrame(0, Buffer.from([0x28, 0xa1]))]), 1007],
        ['frame over the 4 KiB limit', clientFrame(2, Buffer.alloc(5000)), 1009],
      ];
      for (const [what, bytes, code] of cases) {
        const c = await openRawWs(server.port, '/ws/bad');
        try {
          await c.waitFrame((f) => f.opcode === 1);
          c.send(bytes);
          const close = await c.waitFrame((f) => f.opcode === 8, 3000).catch((err: Error) => assert.fail(`${what}: ${err.message}`));
          assert.equal(closeCode(close), code, what);
        } finally {
          c.destroy();
        }
      }
      // a valid fragmented text message and a binary message are accepted (and ignored)
      const ok = await openRawWs(server.port, '/ws/good');
      ok.send(Buffer.concat([clientFrame(1, 'fra', { fin: false }), clientFrame(9, 'mid'), clientFrame(0, 'gment ✓')]));
      ok.send(clientFrame(2, Buffer.from([0, 1, 2])));
      const pong = await ok.waitFrame((f) => f.opcode === 10);
      assert.equal(pong.payload.toString(), 'mid');
      await ok.waitFrame((f) => f.payload.toString() === 'Chunk 1 for ID good', 3000);
      assert.ok(!ok.frames.some((f) => f.opcode === 8), 'no close');
      ok.destroy();
      const before = bystander.texts.length;
      await waitFor('bystander heartbeats', () => bystander.texts.length >= before + 2, 3000, SERVER_POLL);
      const stats = JSON.parse((await request(`${server.url}/stats`)).body);
      assert.equal(stats.workerRestarts, 0);
      assert.ok(stats.closed.protocol >= cases.length, JSON.stringify(stats.closed));
      bystander.ws.terminate();
    });

    test('server shutdown closes every WebSocket with 1001', async () => {
      const c = await connect(`${wsUrl}/last`);
      await c.waitFor('Welcome to comet-lab, last');
      const code = await server.stop();
      assert.equal((await c.closed).code, 1001);
      assert.equal(code, 130);
    });
  });
}

describe('WebSocket routing across two workers: exactly once, in order, on every stream of an id', () => {
  for (const engine of ['raw', 'http']) {
    test(engine, async () => {
      const server = await startServerProcess(['--engine', engine, '--workers', '2', '--interval', '10s'], { COMET_ADMIN_TOKEN: '' });
      const clients: Client[] = [];
      try {
        // the kernel spreads connections by hash: open until both workers hold streams of the id
        await waitFor('streams on both workers', async () => {
          const c = await connect(`ws://127.0.0.1:${server.port}/ws/shared`);
          clients.push(c);
          await c.waitFor('Welcome to comet-lab, shared');
          const stats = JSON.parse((await request(`${server.url}/stats`)).body) as { processes: Array<{ role: string; open: number }> };
          return clients.length >= 4 && stats.processes.filter((p) => p.role === 'worker' && p.open > 0).length === 2;
        }, 10_000, SERVER_POLL);
        const sends = await Promise.all(Array.from({ length: 30 }, (_, k) => post(`${server.url}/${k % 10 === 9 ? 'broadcast' : 'send/shared'}`, `m${k}`)));
        const bySeq = sends.map((r, k) => ({ seq: (JSON.parse(r.body) as { seq: number }).seq, body: `m${k}` })).sort((x, y) => x.seq - y.seq);
        const expected = bySeq.map((x) => x.body);
        for (const c of clients) {
          await c.waitFor(new RegExp(` ${expected.at(-1)}$`));
          await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(c.texts.filter((t) => t.startsWith('@')).map((t) => t.slice(t.indexOf(' ') + 1)), expected);
        }
      } finally {
        for (const c of clients) c.ws.terminate();
        await server.stop();
      }
    });
  }
});
