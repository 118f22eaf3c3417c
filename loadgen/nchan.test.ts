/**
 * The load generator against a comet server that is not ours: nginx with the nchan module, `http-chunked`
 * subscribers (nchan answers 403 unless the request carries `TE: chunked`, as a streaming client's does) and
 * `websocket` subscribers (nchan pings every second here: the connections must answer and stay up).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nowMs } from '../shared/clock.ts';
import type { Transport } from '../shared/contracts.ts';
import { messageChunk } from '../shared/message-format.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { exited } from './bench/bench-support.ts';
import { createPool } from './pool-spec.ts';
import { closedPort } from './testing/scripted-server.ts';
import { untilStatus } from './testing/pool-harness.ts';

let dir = '';
let port = 0;
let nginx: ChildProcess | undefined;

function nchanModule(): string {
  // Debian's 50-mod-nchan.conf says where the module is: `load_module modules/ngx_nchan_module.so;`
  const line = readFileSync('/etc/nginx/modules-enabled/50-mod-nchan.conf', 'utf8');
  const rel = /load_module\s+(\S+);/.exec(line)![1]!;
  return rel.startsWith('/') ? rel : join('/usr/lib/nginx', rel);
}

function canConnect(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loadgen-nchan-'));
  mkdirSync(join(dir, 'tmp'));
  port = await closedPort();
  const conf = `
load_module ${nchanModule()};
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    location ~ ^/sub/(\\w+)$ { nchan_subscriber http-chunked; nchan_channel_id $1; }
    location ~ ^/ws/(\\w+)$ { nchan_subscriber websocket; nchan_channel_id $1; nchan_websocket_ping_interval 1; }
    location ~ ^/pub/(\\w+)$ { nchan_publisher; nchan_channel_id $1; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  await waitFor('nginx listening', () => canConnect(port), 10_000, { everyMs: 50 });
});

after(async () => {
  if (nginx) {
    nginx.kill('SIGQUIT');
    await exited(nginx, 5000);
  }
  rmSync(dir, { recursive: true, force: true });
});

/** The load generator's pool of `n` subscribers, one channel each (`{i}` in the template). */
function subscriberPool(template: string, transport: Transport, n: number) {
  return createPool({
    template,
    firstIndex: 0,
    capacity: n,
    transport,
    sourceAddresses: [],
    portRange: [32768, 60999],
    maxConnecting: 100,
    connectTimeoutMs: 5000,
    reconnect: false,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
  });
}

async function subscribers(channel: string): Promise<number> {
  // nchan updates its channel info a little after a subscriber's head went out: callers poll
  const res = await fetch(`http://127.0.0.1:${port}/pub/${channel}`, { headers: { accept: 'text/json' } });
  if (res.status === 404) return 0;
  return ((await res.json()) as { subscribers: number }).subscribers;
}

/** Waits until nchan counts one subscriber on each of `<prefix>0` .. `<prefix>n-1` (it counts a little late). */
async function untilSubscribers(prefix: string, n: number): Promise<void> {
  let total = 0;
  await waitFor('nchan to count as many subscribers as we hold', async () => {
    total = 0;
    for (let i = 0; i < n; i++) total += await subscribers(`${prefix}${i}`);
    return total === n;
  }, 10_000, { everyMs: 100, describe: () => total });
}

test('nchan http-chunked subscribers: all held, counted by nchan, published messages arrive as chunks with latency', { timeout: 60_000 }, async () => {
  const n = 30;
  const pool = await subscriberPool(`http://127.0.0.1:${port}/sub/ch{i}`, 'chunked', n);
  try {
    pool.ramp(n, 0);
    await untilStatus(pool, `${n} active`, (s) => s.active === n, 10_000, 50);
    assert.equal(pool.status().errors.http_status, 0, 'nchan answered 200, not 403');
    await untilSubscribers('ch', n);
    for (let i = 0; i < n; i += 3) {
      const res = await fetch(`http://127.0.0.1:${port}/pub/ch${i}`, { method: 'POST', body: messageChunk(nowMs(), `hello ${i}`) });
      assert.ok(res.status === 201 || res.status === 202, `publish ${res.status}`);
    }
    await untilStatus(pool, '10 messages', (s) => s.messages === 10, 5000, 50);
    const s = pool.status();
    assert.equal(s.chunks, 10);
    assert.ok(s.latencyMs.max > 0 && s.latencyMs.max < 5000, `latency ${JSON.stringify(s.latencyMs)}`);
  } finally {
    pool.stop();
  }
});

test('nchan websocket subscribers: held through its pings, counted by nchan, published messages arrive as frames with latency', { timeout: 60_000 }, async () => {
  const n = 30;
  const pool = await subscriberPool(`ws://127.0.0.1:${port}/ws/wsch{i}`, 'ws', n);
  try {
    pool.ramp(n, 0);
    await untilStatus(pool, `${n} active`, (s) => s.active === n, 10_000, 50);
    await untilSubscribers('wsch', n);
    // two of nchan's 1 s pings, answered: every connection is still up and nothing was a protocol error
    await new Promise((r) => setTimeout(r, 2500));
    for (let i = 0; i < n; i += 3) {
      const res = await fetch(`http://127.0.0.1:${port}/pub/wsch${i}`, { method: 'POST', body: messageChunk(nowMs(), `hello ${i}`) });
      assert.ok(res.status === 201 || res.status === 202, `publish ${res.status}`);
    }
    await untilStatus(pool, '10 messages', (s) => s.messages === 10, 5000, 50);
    const s = pool.status();
    assert.equal(s.active, n);
    assert.equal(s.chunks, 10, 'one message each, nothing else counted');
    assert.equal(s.errors.protocol + s.errors.handshake + s.errors.ws_close, 0, JSON.stringify(s.errors));
    assert.ok(s.latencyMs.max > 0 && s.latencyMs.max < 5000, `latency ${JSON.stringify(s.latencyMs)}`);
  } finally {
    pool.stop();
  }
});
