/**
 * Routed sends on the supervisor's lean path (raw handles, no express) under concurrent senders: 8 keep-alive
 * clients send to 6 ids whose 12 streams the kernel spread over 2 workers, with broadcasts among them. Every stream
 * gets each message of its id exactly once, every sender's messages in the order it sent them, everything in the
 * order of the sequence numbers the server answered with; the senders' connections were on the lean path (/stats).
 * Then what is not plain goes on to express and is answered as before (token, id, body size), a body that
 * arrives after its head, and pipelined sends answered in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { messagesIn, rawExchange, rawStream, request, startServerProcess, type ServerProcess } from './test-helpers.ts';

const TOKEN = 'sends-test-token';
const IDS = 6;
const STREAMS_PER_ID = 2;
const SENDERS = 8;
const PER_SENDER = 60;


describe('routed sends on the lean path', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess(['--workers', '2', '--interval', '60s'], { COMET_ADMIN_TOKEN: TOKEN });
  });
  after(async () => {
    await server?.stop();
  });

  test(`${SENDERS} concurrent senders x ${PER_SENDER} sends to ${IDS} ids (${IDS * STREAMS_PER_ID} streams) and broadcasts: exactly once, in order`, async () => {
    const streams = Array.from({ length: IDS * STREAMS_PER_ID }, (_, i) => ({ id: `id-${i % IDS}`, ...rawStream(server.port, `id-${i % IDS}`) }));
    const agents = Array.from({ length: SENDERS + 1 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      await Promise.all(streams.map((s) => s.ready));
      const post = (agent: http.Agent, path: string, body: string) =>
        new Promise<{ status: number; json: { seq: number; delivered: number } }>((resolve, reject) => {
          const req = http.request(`${server.url}${path}`, { method: 'POST', agent, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(b) }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const seqOf = new Map<string, number>();
      const senders = Array.from({ length: SENDERS }, async (_, k) => {
        for (let n = 0; n < PER_SENDER; n++) {
          const body = `s${k}-${n}`;
          const r = await post(agents[k]!, `/send/id-${(k + n) % IDS}`, body);
          assert.equal(r.status, 200, JSON.stringify(r.json));
          assert.equal(r.json.delivered, STREAMS_PER_ID);
          seqOf.set(body, r.json.seq);
        }
      });
      const broadcasts = (async () => {
        for (let b = 0; b < 3; b++) {
          await new Promise((r) => setTimeout(r, 20));
          const r = await post(agents[SENDERS]!, '/broadcast', `b${b}`);
          assert.equal(r.status, 200);
          seqOf.set(`b${b}`, r.json.seq);
        }
      })();
      await Promise.all([...senders, broadcasts]);

      // the senders' keep-alive connections are on the lean path; the broadcaster's and this request's on node:http
      const stats = JSON.parse((await request(`${server.url}/stats`)).body) as { apiConnections: { open: number; lean: number } };
      assert.equal(stats.apiConnections.lean, SENDERS, 'every sender connection on the lean path');
      assert.equal(stats.apiConnections.open, SENDERS + 2);

      const last = Math.max(...seqOf.values());
      await new Promise((r) => setTimeout(r, 200));
      const seen = new Set<number>();
      for (const s of streams) {
        const got = messagesIn(s.text());
        const want = [...seqOf.keys()].filter((b) => b.startsWith('b') || (Number(b.slice(1).split('-')[0]) + Number(b.split('-')[1])) % IDS === Number(s.id.slice(3)));
        assert.equal(got.length, want.length, `${s.id}: ${got.length} messages, ${want.length} sent to it`);
        assert.deepEqual([...got].sort(), [...want].sort(), `${s.id}: each message exactly once`);
        const seqs = got.map((b) => seqOf.get(b)!);
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `${s.id}: in the order of the answered sequence numbers`);
        for (let k = 0; k < SENDERS; k++) {
          const mine = got.filter((b) => b.startsWith(`s${k}-`)).map((b) => Number(b.split('-')[1]));
          assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `${s.id}: sender ${k} in its order`);
        }
        for (const q of seqs) seen.add(q);
      }
      assert.equal(seen.size, SENDERS * PER_SENDER + 3, 'every send and broadcast reached a stream');
      assert.ok(last >= SENDERS * PER_SENDER + 3);
    } finally {
      for (const a of agents) a.destroy();
      for (const s of streams) s.socket.destroy();
    }
  });

  test('a send that is not plain is answered by express as before; a body after its head; pipelined sends in order', async () => {
    const head = (path: string, auth: string, length: number, extra = '') => `POST ${path} HTTP/1.1\r\nHost: t\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Content-Length: ${length}\r\n${extra}\r\n`;
    // no stream: 404 JSON, the connection kept
    const noStream = await rawExchange(server.port, head('/send/nobody', `Bearer ${TOKEN}`, 2) + 'hi', 1000);
    assert.match(noStream.text, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(noStream.text, /"error":"not_found","message":"no stream open for id nobody","id":"nobody","delivered":0/);
    // wrong token: 401 with WWW-Authenticate (express)
    const denied = await rawExchange(server.port, head('/send/x', 'Bearer nope', 2) + 'hi', 1000);
    assert.match(denied.text, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    assert.match(denied.text, /WWW-Authenticate: Bearer\r\n/i);
    // a plain send after express took the connection is still answered (by express)
    const mixed = await rawExchange(server.port, head('/send/nobody', 'Bearer nope', 0) + head('/send/nobody', `Bearer ${TOKEN}`, 0), 1000);
    assert.match(mixed.text, /^HTTP\/1\.1 401 /);
    // a bad id: 400 (express)
    assert.match((await rawExchange(server.port, head('/send/bad%20id', `Bearer ${TOKEN}`, 0), 1000)).text, /^HTTP\/1\.1 400 /);
    // over 64 KiB: 413 before the body is read, closed
    const big = await rawExchange(server.port, head('/send/x', `Bearer ${TOKEN}`, 64 * 1024 + 1));
    assert.match(big.text, /^HTTP\/1\.1 413 /);
    assert.ok(big.closed);

    // a stream to send to, then: the body after its head, and two pipelined sends answered in order
    const s = rawStream(server.port, 'late-body');
    await s.ready;
    const sock = net.connect(server.port, '127.0.0.1');
    let answers = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (answers += d));
    await new Promise((r) => sock.once('connect', r));
    sock.write(head('/send/late-body', `Bearer ${TOKEN}`, 5));
    await new Promise((r) => setTimeout(r, 100));
    sock.write('first');
    await new Promise((r) => setTimeout(r, 100));
    sock.write(head('/send/late-body', `Bearer ${TOKEN}`, 6) + 'second' + head('/send/late-body', `Bearer ${TOKEN}`, 5) + 'third');
    await new Promise((r) => setTimeout(r, 300));
    sock.destroy();
    const statuses = [...answers.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200'], answers);
    const seqs = [...answers.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, `answered in order: ${seqs.join(',')}`);
    assert.deepEqual(messagesIn(s.text()), ['first', 'second', 'third']);
    s.socket.destroy();
  });
});
