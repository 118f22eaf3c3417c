/**
 * The batch-io addon, built for real with the host's gcc, on real loopback sockets: batched writes reach every socket
 * in order (also when a socket's buffer is full and libuv takes over), a dead peer is reported, batched reads give
 * each socket's bytes to its slot and its end once; the server and the load generator map it (/proc/<pid>/maps),
 * and without it (COMET_BATCH_IO=0) they still stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { controlTokenOf, exited, getJson, postJson, startWithReadyLine } from '../../loadgen/bench/bench-support.ts';
import { request, startServerProcess } from '../../server/test-helpers.ts';
import { waitFor } from '../testing/wait-for.ts';
import { batchIo, batchIoStatus } from './batch-io.ts';
import { BatchReader } from './batch-reader.ts';
import { BatchWriter, type FdHandle } from './batch-writer.ts';
import { closeRaw, connectRaw, listenRaw, queuedBytes, type TcpHandle } from './raw-tcp.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** `n` accepted server handles, each connected to a net.Socket client that collects what it receives. */
async function pairs(n: number, opts: { pauseClients?: boolean } = {}) {
  const accepted: FdHandle[] = [];
  const listener = listenRaw({ host: '127.0.0.1', port: 0, onConnection: (h) => accepted.push(Object.assign(h, { fdn: h.fd }) as FdHandle) });
  const clients: { socket: net.Socket; got: Buffer[] }[] = [];
  for (let i = 0; i < n; i++) {
    const socket = net.connect(listener.port, '127.0.0.1');
    const c = { socket, got: [] as Buffer[] };
    socket.on('data', (d) => c.got.push(d));
    socket.on('error', () => undefined);
    if (opts.pauseClients) socket.pause();
    clients.push(c);
  }
  while (accepted.length < n) await new Promise((r) => setTimeout(r, 5));
  return { accepted, clients, close: () => listener.close() };
}

const text = (c: { got: Buffer[] }) => Buffer.concat(c.got).toString('utf8');

test('the addon builds with gcc and loads', () => {
  const io = batchIo();
  assert.ok(io, batchIoStatus().detail);
  assert.equal(batchIoStatus().enabled, true);
  assert.match(batchIoStatus().detail, /\.lab\/batch-io\/[0-9a-f]{16}\/batch-io\.node$/);
});

test('a batch writes each socket its own bytes, a repeated payload and bytes to many, in order across flushes', async () => {
  const io = batchIo()!;
  const p = await pairs(50);
  const failed: FdHandle[] = [];
  const w = new BatchWriter(io, (h) => failed.push(h));
  for (const [i, h] of p.accepted.entries()) assert.ok(w.write(h, `one ${i} ü\n`));
  const same = 'broadcast: the same string object for every socket\n';
  for (const h of p.accepted) w.write(h, same);
  const bytes = Buffer.from('bytes as they are: \x81\x05\n', 'latin1'); // a WebSocket frame is written unencoded
  for (const h of p.accepted) w.write(h, bytes);
  await Promise.resolve(); // the batch goes out at the end of the task
  for (const h of p.accepted) w.write(h, 'last\n');
  w.flush();
  await new Promise((r) => setTimeout(r, 100));
  const order = new Map(p.accepted.map((h, i) => [h, i]));
  for (const [k, c] of p.clients.entries()) {
    // accept order and connect order may differ: find the index this socket was written as
    const i = [...order.values()].find((j) => text(c).startsWith(`one ${j} `));
    assert.equal(Buffer.concat(c.got).toString('latin1'), Buffer.from(`one ${i} ü\n${same}`, 'utf8').toString('latin1') + 'bytes as they are: \x81\x05\nlast\n', `client ${k}`);
  }
  assert.deepEqual(failed, []);
  for (const c of p.clients) c.socket.destroy();
  for (const h of p.accepted) closeRaw(h);
  await p.close();
});

test('a socket whose buffer is full: the rest waits in libuv, later writes queue behind it, nothing is lost or reordered', async () => {
  const io = batchIo()!;
  const p = await pairs(2, { pauseClients: true });
  const w = new BatchWriter(io, () => assert.fail('no write fails'));
  const [full, other] = p.accepted as [FdHandle, FdHandle];
  const piece = 'x'.repeat(60_000);
  let sent = '';
  for (let i = 0; i < 80; i++) {
    const s = `<${i}>${piece}`;
    w.write(full, s);
    sent += s;
    w.write(other, `o${i};`);
    if (i % 10 === 9) w.flush();
  }
  w.flush();
  assert.ok(queuedBytes(full) > 0, 'the paused client left bytes in libuv');
  for (const c of p.clients) c.socket.resume();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && text(p.clients.find((c) => text(c).startsWith('<0>')) ?? { got: [] }).length < sent.length) await new Promise((r) => setTimeout(r, 20));
  const fullClient = p.clients.find((c) => text(c).startsWith('<0>'))!;
  const otherClient = p.clients.find((c) => c !== fullClient)!;
  assert.equal(text(fullClient), sent);
  assert.equal(text(otherClient), Array.from({ length: 80 }, (_, i) => `o${i};`).join(''));
  assert.equal(queuedBytes(full), 0);
  for (const c of p.clients) c.socket.destroy();
  for (const h of p.accepted) closeRaw(h);
  await p.close();
});

/** 'a' x (bytes - tail bytes) + a tail of 2-, 3- and 4-byte characters: `bytes` long in UTF-8. */
function multiByte(bytes: number): string {
  const tail = 'é€😀é';
  return 'a'.repeat(bytes - Buffer.byteLength(tail)) + tail;
}

test('strings of multi-byte text around 4 KiB and 8 KiB reach the socket whole (none cut at a character)', async () => {
  const io = batchIo()!;
  const p = await pairs(1);
  const w = new BatchWriter(io, () => assert.fail('no write fails'));
  const h = p.accepted[0]!;
  // C's first copy goes to a 4096-byte stack buffer; a string whose character straddles its end came back cut and
  // was reported written in full (measured: 'a' x 4094 + 'é' wrote 4094 of its 4096 bytes)
  const sent: string[] = [];
  for (const around of [4096, 8192]) {
    for (let n = around - 8; n <= around + 8; n++) {
      const s = multiByte(n);
      w.write(h, s);
      w.flush(); // each its own batch: the buffer starts at 4096 bytes each time
      sent.push(s);
    }
  }
  // and in one batch, after the buffer grew for a longer string
  for (const n of [9000, 8191, 8192, 8193, 4095]) {
    w.write(h, multiByte(n));
    sent.push(multiByte(n));
  }
  // a lone surrogate: U+FFFD in C as in Buffer.from (a partial write's rest is cut from Buffer.from's bytes)
  const lone = `${'a'.repeat(4092)}\ud800b`;
  w.write(h, lone);
  sent.push(lone);
  w.flush();
  const want = Buffer.from(sent.join(''), 'utf8');
  const c = p.clients[0]!;
  await waitFor('every byte', () => Buffer.concat(c.got).length >= want.length, 5000, { everyMs: 20 }).catch(() => undefined);
  assert.equal(Buffer.concat(c.got).length, want.length, 'bytes received');
  assert.ok(Buffer.concat(c.got).equals(want), 'byte-exact');
  c.socket.destroy();
  closeRaw(h);
  await p.close();
});

test('a partial write of multi-byte text: the rest libuv writes starts at the byte the kernel stopped at', async () => {
  const io = batchIo()!;
  const p = await pairs(1, { pauseClients: true });
  const w = new BatchWriter(io, () => assert.fail('no write fails'));
  const h = p.accepted[0]!;
  let sent = '';
  for (let i = 0; i < 80; i++) {
    const s = `<${i}>${'é€😀'.repeat(7000)}`; // 63 KB each: the kernel buffer fills and cuts one mid-character
    w.write(h, s);
    sent += s;
    w.flush();
  }
  assert.ok(queuedBytes(h) > 0, 'the paused client left bytes in libuv');
  const c = p.clients[0]!;
  c.socket.resume();
  const want = Buffer.from(sent, 'utf8');
  await waitFor('every byte', () => Buffer.concat(c.got).length >= want.length, 10_000, { everyMs: 20 }).catch(() => undefined);
  assert.ok(Buffer.concat(c.got).equals(want), `byte-exact (${Buffer.concat(c.got).length} of ${want.length} bytes)`);
  c.socket.destroy();
  closeRaw(h);
  await p.close();
});

/** Reads an HTTP/1.1 response with a chunked body from `socket`, strictly: every chunk's size must match its bytes. */
function chunkedReader(socket: net.Socket) {
  let buf = Buffer.alloc(0);
  let headDone = false;
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!headDone) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!/transfer-encoding: chunked/i.test(buf.toString('latin1', 0, end))) error = 'not chunked';
      headDone = true;
      buf = buf.subarray(end + 4);
    }
    for (;;) {
      const line = buf.indexOf('\r\n');
      if (line < 0) return;
      const sizeText = buf.toString('latin1', 0, line);
      if (!/^[0-9a-f]+$/i.test(sizeText)) return void (error ??= `bad chunk size line ${JSON.stringify(sizeText.slice(0, 40))}`);
      const size = parseInt(sizeText, 16);
      if (buf.length < line + 2 + size + 2) return;
      if (buf.toString('latin1', line + 2 + size, line + 4 + size) !== '\r\n') return void (error ??= `chunk of ${size} bytes not followed by CRLF`);
      chunks.push(buf.subarray(line + 2, line + 2 + size));
      buf = buf.subarray(line + 4 + size);
    }
  });
  return { text: () => Buffer.concat(chunks).toString('utf8'), error: () => error };
}

test('sends of multi-byte text around 4 KiB and 8 KiB reach raw-engine chunked and SSE clients whole, framing intact', { timeout: 30_000 }, async () => {
  const server = await startServerProcess(['--workers', '1', '--engine', 'raw', '--interval', '60s'], { COMET_BATCH_IO: '1' });
  const sockets: net.Socket[] = [];
  try {
    const readers = ['/test/mb', '/sse/mb'].map((path) => {
      const socket = net.connect(server.port, '127.0.0.1');
      sockets.push(socket);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      return { path, r: chunkedReader(socket) };
    });
    for (const { r } of readers) await waitFor('welcome', () => r.text().includes('Welcome to comet-lab, mb'), 5000);
    const bodies: string[] = [];
    for (const around of [4096, 8192]) {
      // the chunk carries 28 bytes besides the body (size line, `@<sentAtMs> `, newline, CRLF): sweep across the buffer's end
      for (let n = around - 40; n <= around + 8; n += 1) bodies.push(multiByte(n));
    }
    for (const body of bodies) {
      const res = await request(`${server.url}/send/mb`, { method: 'POST', body });
      assert.equal(res.status, 200, res.body);
    }
    assert.equal((await request(`${server.url}/send/mb`, { method: 'POST', body: 'last' })).status, 200);
    for (const { r } of readers) await waitFor('the last send', () => r.text().includes(' last\n') || r.error() !== undefined, 5000);
    for (const { path, r } of readers) {
      assert.equal(r.error(), undefined, path);
      const got = [...r.text().matchAll(/^(?:data: )?@[0-9.]+ (.*)$/gm)].map((m) => m[1]!);
      assert.equal(got.length, bodies.length + 1, `${path}: messages`);
      for (const [i, body] of bodies.entries()) assert.ok(got[i] === body, `${path}: message ${i} (${Buffer.byteLength(body)} bytes) whole`);
    }
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
});

test('a dead peer is reported once the batch is written; the others get their bytes', async () => {
  const io = batchIo()!;
  const p = await pairs(3);
  p.clients[1]!.socket.resetAndDestroy();
  await new Promise((r) => setTimeout(r, 50));
  const failed: number[] = [];
  const w = new BatchWriter(io, (_h, err) => failed.push(err));
  for (let round = 0; round < 3; round++) {
    for (const h of p.accepted) w.write(h, `r${round}\n`);
    w.flush();
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(failed.length >= 1 && failed.every((e) => e < 0), `failures: ${failed.join(',')}`);
  const alive = p.clients.filter((_, i) => i !== 1);
  for (const c of alive) assert.equal(text(c), 'r0\nr1\nr2\n');
  for (const c of p.clients) c.socket.destroy();
  for (const h of p.accepted) closeRaw(h);
  await p.close();
});

test('batched reads: every socket its bytes under its slot, its end once, nothing after stop', async () => {
  const io = batchIo()!;
  const got = new Map<number, string>();
  const ends: [number, number][] = [];
  const reader = new BatchReader(
    io,
    (slot, buf, start, end) => got.set(slot, (got.get(slot) ?? '') + buf.toString('latin1', start, end)),
    (slot, err) => ends.push([slot, err]),
  );
  const serverSide: net.Socket[] = [];
  const server = net.createServer((s) => serverSide.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const handles: TcpHandle[] = [];
  await new Promise<void>((resolve, reject) => {
    for (let slot = 0; slot < 20; slot++) {
      connectRaw({ host: '127.0.0.1', port }, (status, h) => {
        if (status !== 0) return reject(new Error(`connect ${status}`));
        handles[slot] = h;
        assert.equal(reader.start(h, 100 + slot), 0);
        if (handles.filter(Boolean).length === 20) resolve();
      });
    }
  });
  while (serverSide.length < 20) await new Promise((r) => setTimeout(r, 5));
  // the server side writes each connection its own text, in two pieces; then ends half of them
  const remote = new Map<number, net.Socket>();
  for (const s of serverSide) remote.set(s.remotePort!, s);
  const local = (h: TcpHandle) => { const a: { port?: number } = {}; h.getsockname(a); return a.port!; };
  for (const [slot, h] of handles.entries()) {
    const s = remote.get(local(h))!;
    s.write(`hello ${100 + slot},`);
    s.write(` again ${100 + slot}`);
  }
  await new Promise((r) => setTimeout(r, 100));
  for (let slot = 0; slot < 10; slot++) remote.get(local(handles[slot]!))!.end();
  reader.stop(handles[19]!); // stopped: reads nothing more
  remote.get(local(handles[19]!))!.write('never read');
  await new Promise((r) => setTimeout(r, 100));
  for (let slot = 0; slot < 20; slot++) assert.equal(got.get(100 + slot), `hello ${100 + slot}, again ${100 + slot}`);
  assert.deepEqual(ends.map(([s]) => s).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => 100 + i));
  assert.ok(ends.every(([, err]) => err === 0), 'a clean end is 0');
  for (const h of handles) closeRaw(h);
  reader.close();
  for (const s of serverSide) s.destroy();
  await new Promise((r) => server.close(() => r(undefined)));
});

/** Whether `pid` has batch-io.node mapped (it uses the addon), read from /proc. */
function mapsAddon(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'latin1').includes('batch-io.node');
}

for (const enabled of [true, false]) {
  test(`server and load generator ${enabled ? 'use the addon' : 'stream without it (COMET_BATCH_IO=0)'}`, { timeout: 60_000 }, async () => {
    const env = { ...process.env, COMET_BATCH_IO: enabled ? '1' : '0' };
    const server = await startWithReadyLine<{ port: number; pid: number }>(process.execPath, [`${REPO}server/cli.ts`, '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--interval', '100ms'], 'comet-lab server ready ', 30_000, { cwd: REPO, env });
    const lg = await startWithReadyLine<{ controlPort: number; pid: number; controlTokenFile?: string }>(process.execPath, [`${REPO}loadgen/cli.ts`, `--url=http://127.0.0.1:${server.info.port}/test/{i}`, '--count=50', '--rate=0', '--hold', '--procs=1', '--control-port=0', '--duration=60s', '--report-every=60s'], 'comet-lab loadgen ready ', 30_000, { cwd: REPO, env });
    try {
      const control = `http://127.0.0.1:${lg.info.controlPort}`;
      await postJson(`${control}/ramp`, { target: 50, rate: 0 }, controlTokenOf(lg.info));
      await waitFor('50 streams', async () => (await getJson<{ active: number }>(`${control}/status`)).active === 50, 10_000);
      const before = (await getJson<{ chunks: number }>(`${control}/status`)).chunks;
      await new Promise((r) => setTimeout(r, 1000));
      const chunks = (await getJson<{ chunks: number }>(`${control}/status`)).chunks - before;
      // 50 streams at 100 ms: about 500 heartbeats a second
      assert.ok(chunks >= 400 && chunks <= 600, `heartbeats in 1 s: ${chunks}`);
      const worker = readFileSync(`/proc/${server.info.pid}/task/${server.info.pid}/children`, 'latin1').trim().split(/\s+/).map(Number)[0]!;
      assert.equal(mapsAddon(worker), enabled, 'the worker');
      assert.equal(mapsAddon(lg.info.pid), enabled, 'the load generator');
    } finally {
      await postJson(`http://127.0.0.1:${lg.info.controlPort}/stop`, {}, controlTokenOf(lg.info)).catch(() => undefined);
      await exited(lg.proc, 5000);
      server.proc.kill('SIGTERM');
      await exited(server.proc, 8000);
    }
  });
}
