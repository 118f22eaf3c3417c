/**
 * The API as a stranger meets it: with a token set only GET /health, /metrics and /stats are open (the token comes
 * from a file or the environment, never the command line, and no worker gets it); ?gc=1 needs the token and runs at
 * most once per --gc-min-interval; a 401 to a huge upload is answered and the connection closed without reading the
 * body; API connections are capped (idle ones closed first, the last places kept for GET /health, /metrics and
 * /stats) and closed when idle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, SERVER_POLL, type ServerProcess, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';

const TOKEN = 'f1le-t0ken-4-test';
const auth = { authorization: `Bearer ${TOKEN}` };

async function workerPids(server: ServerProcess): Promise<number[]> {
  const stats = JSON.parse((await request(`${server.url}/stats`)).body);
  return stats.processes.filter((p: { role: string }) => p.role === 'worker').map((p: { pid: number }) => p.pid);
}

test('with a token: only GET /health, /metrics and /stats are open; the token is in no command line and no worker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comet-lab-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
  const server = await startServerProcess(['--workers', '1', '--admin-token-file', file], { COMET_ADMIN_TOKEN: '' });
  try {
    for (const path of ['/health', '/metrics', '/stats']) assert.equal((await request(`${server.url}${path}`)).status, 200, path);
    const closed: [string, string][] = [
      ['GET', '/stats?gc=1'],
      ['POST', '/send/x'],
      ['POST', '/broadcast'],
      ['POST', '/stats'],
      ['DELETE', '/health'],
      ['PUT', '/metrics'],
    ];
    for (const [method, path] of closed) {
      const r = await request(`${server.url}${path}`, { method, body: method === 'GET' ? undefined : 'x' });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
      const wrong = await request(`${server.url}${path}`, { method, body: method === 'GET' ? undefined : 'x', headers: { authorization: 'Bearer f1le-t0ken' } });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
    }
    assert.equal((await request(`${server.url}/broadcast`, { method: 'POST', body: 'x', headers: auth })).status, 200);
    // ?gc=1: with the token, once per --gc-min-interval (10 s by default); a second at once is 429 with Retry-After
    assert.equal((await request(`${server.url}/stats?gc=1`, { headers: auth })).status, 200);
    const again = await request(`${server.url}/stats?gc=1`, { headers: auth });
    assert.equal(again.status, 429);
    assert.ok(Number(again.headers['retry-after']) >= 9, String(again.headers['retry-after']));
    const cmdline = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(TOKEN), 'the token is not on the command line');
    for (const pid of await workerPids(server)) assert.ok(!readFileSync(`/proc/${pid}/environ`, 'latin1').includes('COMET_ADMIN_TOKEN'), `worker ${pid}`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Streams a body as fast as the socket takes it (for at most `ms`) after a head declaring 10 GiB. */
function hugeUpload(port: number, ms: number): Promise<{ written: number; closedAfterMs: number; answer: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const t0 = Date.now();
    let written = 0;
    let answer = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ written, closedAfterMs: Date.now() - t0, answer });
    };
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', finish);
    socket.on('close', finish);
    setTimeout(finish, ms);
    const pump = () => {
      while (!done && Date.now() - t0 < ms) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    socket.write(`POST /broadcast HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: ${10 * 2 ** 30}\r\n\r\n`, pump);
  });
}

/** A 401 to a 10 GiB upload: answered, and the connection closed at once with the body left unread. */
async function assertUploadRefused(port: number): Promise<void> {
  const r = await hugeUpload(port, 4000);
  assert.match(r.answer, /^HTTP\/1\.1 401 /);
  assert.ok(r.closedAfterMs < 2000, `closed after ${r.closedAfterMs} ms`);
  // what the client could write is what the kernel buffers held (4 MiB measured on loopback), not what was read
  assert.ok(r.written < 64 * 2 ** 20, `${(r.written / 2 ** 20).toFixed(0)} MiB written before the close`);
}

test('a 401 to a 10 GiB upload is answered and the connection closed, the body left unread (http engine: the worker stops)', async () => {
  const server = await startServerProcess(['--workers', '1', '--engine', 'http'], { COMET_ADMIN_TOKEN: TOKEN });
  try {
    await assertUploadRefused(server.port);
  } finally {
    await server.stop();
  }
});

/** Opens a keep-alive connection, asks `path` once, and leaves it open and idle. */
function idleAfter(port: number, path: string): Promise<{ socket: net.Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) [^]*?\r\n\r\n/.exec(text);
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
      if (m && length >= 0 && text.length >= m[0].length + length) resolve({ socket, status: Number(m[1]) });
    });
    socket.on('close', () => resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) }));
    setTimeout(() => reject(new Error(`no answer to ${path}: ${JSON.stringify(text)}`)), 5000);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
  });
}

test('700 idle keep-alive API connections under a 600-file limit: idle ones are closed, /health answers, files stay free', { timeout: 60_000 }, async () => {
  const server = await startServerProcess(['--workers', '1', '--api-idle-timeout', '60s'], {}, { nofile: 600 });
  const sockets: net.Socket[] = [];
  try {
    for (let batch = 0; batch < 14; batch++) {
      const opened = await Promise.all(Array.from({ length: 50 }, () => idleAfter(server.port, '/stats')));
      for (const o of opened) sockets.push(o.socket);
      assert.ok(opened.every((o) => o.status === 200), `batch ${batch}: ${opened.map((o) => o.status).join(',')}`);
    }
    const t0 = Date.now();
    const health = await request(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.ok(Date.now() - t0 < 1000);
    const stats = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.equal(stats.apiConnections.cap, 400, 'the cap stays 200 files under the limit');
    assert.ok(stats.apiConnections.open <= 400, JSON.stringify(stats.apiConnections));
    const supervisor = stats.processes.find((p: { role: string }) => p.role === 'supervisor');
    assert.ok(supervisor.openFds < 500, `supervisor holds ${supervisor.openFds} files of ${supervisor.maxFds}`);
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
});

describe('a server with a token from the environment, a 40-connection API cap and a 1 s idle timeout', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess(['--workers', '1', '--max-api-connections', '40', '--api-idle-timeout', '1s'], { COMET_ADMIN_TOKEN: 'env-t0ken-xyz' });
  });
  after(async () => {
    await server?.stop();
  });
  const envAuth = { authorization: 'Bearer env-t0ken-xyz' };

  test('a token from the environment is not passed on to workers', async () => {
    assert.equal((await request(`${server.url}/send/x`, { method: 'POST', body: 'a', headers: envAuth })).status, 404);
    for (const pid of await workerPids(server)) assert.ok(!readFileSync(`/proc/${pid}/environ`, 'latin1').includes('env-t0ken-xyz'), `worker ${pid}`);
  });

  test('a 401 to a 10 GiB upload is answered and the connection closed, the body left unread (raw engine: the supervisor)', async () => {
    await assertUploadRefused(server.port);
  });

  test('an idle keep-alive API connection is closed after --api-idle-timeout', async () => {
    const t0 = Date.now();
    const { socket } = await idleAfter(server.port, '/health');
    await waitFor('the server closing the idle connection', () => socket.destroyed || socket.readableEnded, 4000, SERVER_POLL);
    const ms = Date.now() - t0;
    assert.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms`);
  });

  test('at the cap, busy connections leave /health, /metrics and /stats their reserved places; other requests get 503', async () => {
    const busy: net.Socket[] = [];
    try {
      // 8 = 40 - the 32 places kept for /health, /metrics and /stats: uploads that never send their body hold them
      for (let i = 0; i < 8; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        s.on('error', () => {});
        s.write(`POST /broadcast HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer env-t0ken-xyz\r\nContent-Length: 100\r\n\r\n`);
        busy.push(s);
      }
      await waitFor('8 busy', async () => JSON.parse((await request(`${server.url}/stats`)).body).apiConnections.open >= 8, 3000, SERVER_POLL);
      const refused = await request(`${server.url}/broadcast`, { method: 'POST', body: 'x', headers: envAuth });
      assert.equal(refused.status, 503, refused.body);
      assert.equal((await request(`${server.url}/health`)).status, 200);
      assert.equal((await request(`${server.url}/stats`)).status, 200);
      const metrics = await request(`${server.url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /comet_requests_rejected_total\{status="503"\} [1-9]/);
      for (const s of busy) s.destroy();
      await waitFor('room again', async () => (await request(`${server.url}/broadcast`, { method: 'POST', body: 'x', headers: envAuth })).status === 200, 3000, SERVER_POLL);
    } finally {
      for (const s of busy) s.destroy();
    }
  });
});
