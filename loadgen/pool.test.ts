import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { nowMs } from '../shared/clock.ts';
import { messageChunk } from '../shared/message-format.ts';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { chunk, CHUNKED_HEAD, closedPort, scriptedServer } from './testing/scripted-server.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { poolSpec, ssEstablished, untilStatus, withPool } from './testing/pool-harness.ts';

test('held connections agree with the server count and with ss; chunks are counted per chunk, not per read', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => {
    // Two chunks in one write, then one chunk split over two writes.
    s.write(CHUNKED_HEAD + chunk('Welcome\n') + chunk('Chunk 1 for ID x\n'));
    const third = chunk(messageChunk(nowMs(), 'split'));
    s.write(third.slice(0, 9));
    setTimeout(() => s.write(third.slice(9)), 30);
  });
  try {
    await withPool(poolSpec(server.port, 300), async (pool) => {
      pool.ramp(300, 2000);
      await untilStatus(pool, '300 active and 900 chunks', (s) => s.active === 300 && s.chunks === 900);
      const s = pool.status();
      assert.equal(server.sockets.size, 300);
      assert.equal(ssEstablished(server.port), 300);
      assert.equal(s.messages, 300);
      assert.equal(s.closed, 0);
      assert.ok(s.rampDone);
      assert.ok(Object.values(s.errors).every((n) => n === 0), JSON.stringify(s.errors));
    });
    await waitFor('sockets closed', () => ssEstablished(server.port) === 0, 5000);
  } finally {
    await server.close();
  }
});

test('latency comes from the send timestamp in each message', { timeout: 60_000 }, async () => {
  // The server stamps its messages 250 ms in the past: every latency is 250 ms plus loopback time.
  const server = await scriptedServer((s) => {
    s.write(CHUNKED_HEAD);
    for (let k = 0; k < 5; k++) s.write(chunk(messageChunk(nowMs() - 250, `m${k}`)));
  });
  try {
    await withPool(poolSpec(server.port, 20), async (pool) => {
      pool.ramp(20, 0);
      await untilStatus(pool, '100 messages', (s) => s.messages === 100);
      const l = pool.status().latencyMs;
      assert.equal(l.count, 100);
      assert.ok(l.p50 >= 250 && l.p50 < 300, `p50 ${l.p50}`);
      assert.ok(l.max >= l.p99 && l.p99 >= l.p90 && l.p90 >= l.p50);
      pool.resetLatency();
      assert.equal(pool.status().latencyMs.count, 0);
      assert.equal(pool.status().lastMessageAtMs, 0);
    });
  } finally {
    await server.close();
  }
});

test('every failure is counted by cause and never disturbs the other connections', { timeout: 60_000 }, async () => {
  const good = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hello\n')));
  const behaviours: Record<string, (s: import('node:net').Socket) => void> = {
    reset: (s) => s.resetAndDestroy(),
    badStatus: (s) => s.write('HTTX/1.1 200 OK\r\n\r\n'),
    badChunk: (s) => s.write(CHUNKED_HEAD + 'zz\r\nhello\r\n'),
    forbidden: (s) => s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'),
    silent: () => {},
    midStreamReset: (s) => {
      s.write(CHUNKED_HEAD + chunk('hi\n'));
      setTimeout(() => s.resetAndDestroy(), 100);
    },
  };
  const servers = Object.fromEntries(await Promise.all(Object.entries(behaviours).map(async ([k, f]) => [k, await scriptedServer((s) => f(s))] as const)));
  const refusedPort = await closedPort();
  // Connection i goes to URL i of this list: one good, then one of each bad kind, cycled.
  const urls = [good.port, refusedPort, ...Object.values(servers).map((s) => s.port)].map((p) => `http://127.0.0.1:${p}/x`);
  try {
    await withPool({ ...poolSpec(0, urls.length * 4, { connectTimeoutMs: 600 }), template: undefined, urls }, async (pool) => {
      pool.ramp(urls.length * 4, 0);
      await untilStatus(pool, 'every connection settled', (s) => s.connecting === 0 && s.rampDone && s.errors.timeout === 4 && s.closed === 8, 8000);
      const s = pool.status() as LoadgenStatus & { protocolProblems: Record<string, number>; httpStatuses: Record<string, number> };
      assert.equal(s.active, 4, 'the good connections stay up');
      assert.equal(s.errors.refused, 4);
      assert.equal(s.errors.reset, 8, 'reset before the head (4) and mid-stream (4)');
      assert.equal(s.errors.protocol, 8);
      assert.deepEqual(s.protocolProblems, { 'bad-status-line': 4, 'bad-chunk-size': 4 });
      assert.equal(s.errors.http_status, 4);
      assert.deepEqual(s.httpStatuses, { '403': 4 });
      assert.equal(s.errors.timeout, 4);
      assert.equal(s.closed, 8, 'bad chunk sizes and mid-stream resets came after a 200 head: active, then closed');
      assert.equal(s.chunks, 8, 'hello from the good ones, hi from the mid-stream ones');
    });
  } finally {
    await good.close();
    for (const s of Object.values(servers)) await s.close();
  }
});

test('with reconnect, connections come back after the server drops them (jittered backoff)', { timeout: 60_000 }, async () => {
  let accepted = 0;
  const server = await scriptedServer((s) => {
    accepted++;
    s.write(CHUNKED_HEAD + chunk('hello\n'));
  });
  try {
    await withPool(poolSpec(server.port, 50, { reconnect: true }), async (pool) => {
      pool.ramp(50, 0);
      await untilStatus(pool, '50 active', (s) => s.active === 50);
      for (const sock of server.sockets) sock.destroy();
      await untilStatus(pool, '50 closed, then 50 active again', (s) => s.closed === 50 && s.active === 50);
      assert.equal(accepted, 100);
      assert.equal((pool.status() as LoadgenStatus & { opened: number }).opened, 100);
    });
  } finally {
    await server.close();
  }
});

test('with reconnect, every attempt after a backoff gets its --connect-retries again, not only the first', { timeout: 30_000 }, async () => {
  // A server that accepts and never answers: each connect times out. One slot, 2 retries: a round is 3 timeouts,
  // the third counted, then a backoff and a new round with 2 retries of its own.
  let accepted = 0;
  const server = await scriptedServer(() => void accepted++);
  try {
    await withPool(poolSpec(server.port, 1, { reconnect: true, connectTimeoutMs: 200, connectRetries: 2 }), async (pool) => {
      pool.ramp(1, 0);
      await untilStatus(pool, 'two counted timeouts', (s) => s.errors.timeout >= 2, 15_000);
      const s = pool.status();
      assert.ok(s.connectRetries! >= 4, `retries over two rounds: ${s.connectRetries} (2 would mean the second round had none)`);
      assert.ok(accepted >= 6, `connections the server accepted: ${accepted}`);
    });
  } finally {
    await server.close();
  }
});

test('without reconnect closed connections stay closed; ramping down closes the newest without counting them closed', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hello\n')));
  try {
    await withPool(poolSpec(server.port, 40), async (pool) => {
      pool.ramp(40, 0);
      await untilStatus(pool, '40 active', (s) => s.active === 40);
      pool.ramp(10, 0);
      assert.equal(pool.status().active, 10);
      await waitFor('server sees 10', () => server.sockets.size === 10, 5000);
      for (const sock of server.sockets) sock.end();
      await untilStatus(pool, '10 closed', (s) => s.closed === 10 && s.active === 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.status().active, 0);
      assert.equal(server.sockets.size, 0);
    });
  } finally {
    await server.close();
  }
});

test('keepOpen: a complete keep-alive answer leaves the connection open, active and idle, until the server closes it', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n'));
  try {
    await withPool(poolSpec(server.port, 50, { keepOpen: true }), async (pool) => {
      pool.ramp(50, 0);
      await untilStatus(pool, '50 active', (s) => s.active === 50);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.status().active, 50);
      assert.equal(pool.status().closed, 0);
      assert.equal(ssEstablished(server.port), 50);
      for (const sock of server.sockets) sock.end();
      await untilStatus(pool, '50 closed', (s) => s.closed === 50 && s.active === 0);
    });
    // Without it, the same answer ends each connection as soon as it is read.
    await withPool(poolSpec(server.port, 20), async (pool) => {
      pool.ramp(20, 0);
      await untilStatus(pool, '20 answered and closed', (s) => s.closed === 20 && s.active === 0);
    });
  } finally {
    await server.close();
  }
});

test('SSE and long-poll transports count events and answers against real servers', { timeout: 60_000 }, async () => {
  const sse = await scriptedServer((s, head) => {
    assert.match(head, /^GET \/sse\/\d+ HTTP\/1\.1\r\n/);
    assert.match(head, /Accept: text\/event-stream/);
    s.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
    s.write(chunk(': hi\n\nid: 1\ndata: Welcome\n\n'));
    s.write(chunk(`id: 2\ndata: ${messageChunk(nowMs(), 'x').trimEnd()}\n\n`));
  });
  let polls = 0;
  let resumed = 0;
  const poll = await scriptedServer((s) => {
    // Answer every poll on this connection: first a message (event 7), then 204s, each after a short wait.
    let n = 0;
    const answer = () => {
      polls++;
      const body = messageChunk(nowMs(), 'p');
      s.write(n++ === 0 ? `HTTP/1.1 200 OK\r\nComet-Event-Id: 7\r\nContent-Length: ${body.length}\r\n\r\n${body}` : 'HTTP/1.1 204 No Content\r\n\r\n');
    };
    answer();
    s.on('data', (d) => {
      if (/\r\nLast-Event-ID: 7\r\n/.test(d.toString('latin1'))) resumed++;
      setTimeout(answer, 20);
    });
  });
  try {
    await withPool({ ...poolSpec(sse.port, 10), template: `http://127.0.0.1:${sse.port}/sse/{i}`, transport: 'sse' }, async (pool) => {
      pool.ramp(10, 0);
      await untilStatus(pool, '20 events', (s) => s.active === 10 && s.chunks === 20 && s.messages === 10);
    });
    await withPool({ ...poolSpec(poll.port, 5), template: `http://127.0.0.1:${poll.port}/poll/{i}`, transport: 'poll' }, async (pool) => {
      pool.ramp(5, 0);
      await untilStatus(pool, 're-polls on the same connections', (s) => s.active === 5 && polls >= 25);
      const s = pool.status();
      assert.equal(s.chunks, 5, 'only the 200 answers are units');
      assert.equal(s.messages, 5);
      assert.equal(poll.sockets.size, 5, 'keep-alive: no new connection per poll');
      assert.ok(resumed >= 20, 'every re-poll sends back the last event id');
    });
  } finally {
    await sse.close();
    await poll.close();
  }
});

test('running out of file descriptors is counted as emfile, and the connections that fit stay up', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hello\n')));
  try {
    // A pool in a process whose open-file limit is 150 (prlimit), asked for 200 connections.
    const poolSpecModule = new URL('./pool-spec.ts', import.meta.url).href;
    const script = `
      const { createPool } = await import(${JSON.stringify(poolSpecModule)});
      const pool = await createPool(${JSON.stringify(poolSpec(server.port, 200))});
      pool.ramp(200, 0);
      const t = setInterval(() => {
        const s = pool.status();
        if (s.rampDone && s.connecting === 0) { clearInterval(t); pool.stop(); process.stdout.write(JSON.stringify(s)); }
      }, 50);`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile('prlimit', ['--nofile=150:150', process.execPath, '--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    const s = JSON.parse(out) as LoadgenStatus;
    assert.ok(s.errors.emfile > 0, JSON.stringify(s.errors));
    assert.equal(s.active + s.errors.emfile, 200);
    assert.ok(s.active > 100, `${s.active} active`);
  } finally {
    await server.close();
  }
});
