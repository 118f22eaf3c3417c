/**
 * The C reference pair, built with the real gcc and run as real processes: it holds a few hundred streams over two
 * server and two client processes, heartbeats them at the asked rate (counted by the clients, checked against the
 * servers' own count and against what curl receives), broadcasts to every stream, frames SSE and WebSocket (read by
 * the ws library), refuses broadcast bodies it could not frame, kills a child that never gets ready, and leaves nothing
 * running. A few seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { waitHeld } from '../pairs/pair.ts';
import { buildCPair } from './build.ts';
import { startCPair } from './c-pair.ts';
import { LineControlled } from './line-control.ts';

const alive = (pid: number) => existsSync(`/proc/${pid}`);

test('gcc builds the pair once per source version', () => {
  const a = buildCPair();
  assert.ok(existsSync(a.server) && existsSync(a.client));
  assert.match(a.compiler, /gcc/);
  assert.deepEqual(buildCPair(), a, 'the second build finds the same binaries');
});

test('the pair holds 400 streams on 2 + 2 processes, heartbeats them at the asked rate and broadcasts to all', { timeout: 30_000 }, async () => {
  const bins = buildCPair();
  const pair = await startCPair({ n: 400, intervalMs: 100, transport: 'chunked', processes: 2 }, bins);
  try {
    const held = await waitHeld(pair, 10_000);
    assert.equal(held.active, 400);
    assert.equal(held.failed, 0);
    const t0 = await pair.totals();
    const started = Date.now();
    await sleep(1000);
    const t1 = await pair.totals();
    const expected = (400 * (Date.now() - started)) / 100;
    const got = t1.chunks - t0.chunks;
    assert.ok(got > expected * 0.9 && got < expected * 1.1, `heartbeats in ~1 s: ${got}, expected ~${expected.toFixed(0)}`);

    await pair.resetLatency();
    const before = await pair.totals();
    const at = Date.now();
    await pair.broadcast('hello everyone');
    let after = await pair.totals();
    for (let i = 0; i < 50 && after.messages - before.messages < 400; i++) {
      await sleep(20);
      after = await pair.totals();
    }
    assert.equal(after.messages - before.messages, 400, 'one message per stream');
    assert.ok(after.lastMessageAtMs >= at && after.lastMessageAtMs < Date.now() + 1, 'the newest arrival is after the trigger');
    assert.ok(after.p99Ms >= after.p50Ms && after.p50Ms > 0 && after.p99Ms < 1000, `latency p50 ${after.p50Ms}, p99 ${after.p99Ms}`);
  } finally {
    await pair.stop();
  }
  for (const pid of [...pair.roots.server, ...pair.roots.client]) assert.ok(!alive(pid), `process ${pid} is gone`);
});

test('what the C server writes is what an HTTP client reads: chunked heartbeats on /test, SSE events on /sse', { timeout: 20_000 }, async () => {
  const bins = buildCPair();
  for (const sse of [false, true]) {
    const { child, ready } = await LineControlled.start<{ port: number }>(bins.server, ['--port', '0', '--interval-ms', '100'], 'comet-c-server ready', 'c-server');
    try {
      // curl decodes the chunked framing; 0.35 s is the welcome and three heartbeats
      let body = '';
      try {
        execFileSync('curl', ['-sN', '--max-time', '0.35', `http://127.0.0.1:${ready.port}/${sse ? 'sse' : 'test'}/alice`], { encoding: 'utf8' });
      } catch (err) {
        body = (err as { stdout: string }).stdout; // curl exits 28 at --max-time, with what it received
      }
      const want = sse
        ? 'data: Welcome to comet-lab, alice\n\ndata: Chunk 1 for ID alice\n\ndata: Chunk 2 for ID alice\n\n'
        : 'Welcome to comet-lab, alice\nChunk 1 for ID alice\nChunk 2 for ID alice\n';
      assert.ok(body.startsWith(want), JSON.stringify(body));
      const stats = await child.ask<{ streams: number; sent: number }>('stats');
      assert.ok(stats.sent >= 2, JSON.stringify(stats));
    } finally {
      await child.stop();
    }
  }
});

test('on /ws a WebSocket client (the ws library, which checks the accept key) gets one text frame per line', { timeout: 20_000 }, async () => {
  const bins = buildCPair();
  const { child, ready } = await LineControlled.start<{ port: number }>(bins.server, ['--port', '0', '--interval-ms', '100'], 'comet-c-server ready', 'c-server');
  try {
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const sock = new WebSocket(`ws://127.0.0.1:${ready.port}/ws/alice`);
      sock.on('message', (data, isBinary) => {
        assert.equal(isBinary, false);
        got.push(data.toString());
        if (got.length === 3) {
          sock.terminate();
          resolve();
        }
      });
      sock.on('error', reject);
    });
    assert.deepEqual(got, ['Welcome to comet-lab, alice', 'Chunk 1 for ID alice', 'Chunk 2 for ID alice']);
  } finally {
    await child.stop();
  }
  // and the C client counts those frames, broadcasts included
  const pair = await startCPair({ n: 100, intervalMs: 100, transport: 'ws', processes: 1 }, bins);
  try {
    await waitHeld(pair, 10_000);
    const t0 = await pair.totals();
    await pair.broadcast('to every socket');
    await sleep(500);
    const t1 = await pair.totals();
    assert.equal(t1.messages - t0.messages, 100);
    assert.ok(t1.chunks - t0.chunks >= 100 + 400, `frames in 0.5 s: ${t1.chunks - t0.chunks}`);
  } finally {
    await pair.stop();
  }
});

test('a broadcast of up to 256 bytes reaches WebSocket (16-bit frame length) and chunked clients whole; a longer one is refused, nothing sent', { timeout: 20_000 }, async () => {
  const bins = buildCPair();
  // a 60 s interval: no heartbeat arrives while the test runs, only the welcome and the broadcasts
  const { child, ready } = await LineControlled.start<{ port: number }>(bins.server, ['--port', '0', '--interval-ms', '60000'], 'comet-c-server ready', 'c-server');
  const sock = new WebSocket(`ws://127.0.0.1:${ready.port}/ws/bob`);
  const abort = new AbortController();
  try {
    const frames: string[] = [];
    sock.on('message', (data) => frames.push(data.toString()));
    await new Promise<void>((resolve, reject) => (sock.once('open', () => resolve()), sock.once('error', reject)));
    const res = await fetch(`http://127.0.0.1:${ready.port}/test/carol`, { signal: abort.signal });
    const reader = res.body!.getReader();
    let text = '';
    const lines = async (n: number) => {
      while (text.split('\n').length - 1 < n) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      return text.split('\n').slice(0, n);
    };
    await lines(1);
    for (let i = 0; i < 100 && frames.length < 1; i++) await sleep(10);
    assert.deepEqual(frames, ['Welcome to comet-lab, bob']);

    const longest = `${'x'.repeat(255)}y`;
    const sent = await child.ask<{ streams: number; written: number; error?: string }>(`broadcast ${longest}`);
    assert.equal(sent.error, undefined);
    assert.equal(sent.written, 2);
    const chunkedLine = (await lines(2))[1]!;
    assert.match(chunkedLine, /^@\d+\.\d{3} x{255}y$/, 'the chunked stream gets the whole message');
    for (let i = 0; i < 100 && frames.length < 2; i++) await sleep(10);
    assert.equal(frames[1], chunkedLine, 'the ws library reads the same message from a frame with a 16-bit length');

    for (const body of ['z'.repeat(257), 'w'.repeat(10_000)]) {
      const refused = await child.ask<{ error?: string; bytes?: number }>(`broadcast ${body}`);
      assert.match(refused.error ?? '', /longer than 256 bytes/);
      assert.equal(refused.bytes, body.length);
    }
    const stats = await child.ask<{ streams: number; broadcasts: number }>('stats');
    assert.deepEqual([stats.streams, stats.broadcasts], [2, 1], 'the server still answers, and counted one broadcast');
    await sleep(200);
    assert.equal(frames.length, 2, 'nothing of the refused bodies reached the WebSocket');
  } finally {
    sock.terminate();
    abort.abort();
    await child.stop();
  }
});

test('a child that never prints its ready line is killed before start() rejects', { timeout: 10_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'line-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'pid');
  await assert.rejects(
    LineControlled.start('sh', ['-c', `echo $$ > ${pidFile}; exec sleep 30`], 'never ready', 'sleeper', 300),
    /sleeper: no 'never ready' answer in 300 ms/,
  );
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 0);
  assert.ok(!alive(pid), `the child ${pid} is gone`);
  await assert.rejects(LineControlled.start('/nonexistent/c-server', [], 'ready', 'missing', 300), /missing did not start: .*ENOENT/);
});

test('bad flags: usage and exit 2', () => {
  const bins = buildCPair();
  for (const [bin, args] of [[bins.server, ['--nope']], [bins.client, ['--port', '1']]] as const) {
    try {
      execFileSync(bin, [...args], { stdio: 'pipe' });
      assert.fail('should have exited 2');
    } catch (err) {
      const e = err as { status: number; stderr: Buffer };
      assert.equal(e.status, 2);
      assert.match(e.stderr.toString(), /usage|required/);
    }
  }
});
