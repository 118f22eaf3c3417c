/**
 * The load generator's WebSocket transport against a WebSocket implementation no one here wrote: the `ws` npm
 * library's server. What it must do with a real peer: the handshake, messages (fragmented, long, binary) counted
 * once each with latency from their stamps, pings answered, the server's close answered with a frame the library
 * accepts (so it is masked and well formed) and counted by code, refusals counted, reconnection. About 3 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { nowMs } from '../shared/clock.ts';
import { messageLine } from '../shared/message-format.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { createPool } from './pool-spec.ts';
import type { ConnectionPool } from './pool.ts';
import { scriptedServer } from './testing/scripted-server.ts';
import { untilStatus } from './testing/pool-harness.ts';

type Status = LoadgenStatus & { wsCloseCodes: Record<string, number>; httpStatuses: Record<string, number> };

interface Peer {
  port: number;
  wss: WebSocketServer;
  pongs: number;
  closesFromClient: number[];
  close(): Promise<void>;
}

/** A `ws` server on node:http; `onConnection` scripts what each connection gets. */
async function peer(onConnection: (ws: WebSocket) => void, verify?: () => boolean): Promise<Peer> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, verifyClient: verify ? () => verify() : undefined });
  const p: Peer = {
    port: 0,
    wss,
    pongs: 0,
    closesFromClient: [],
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => r());
      }),
  };
  wss.on('connection', (ws) => {
    ws.on('pong', () => p.pongs++);
    ws.on('close', (code) => p.closesFromClient.push(code));
    onConnection(ws);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  p.port = (server.address() as AddressInfo).port;
  return p;
}

async function withPool(port: number, capacity: number, fn: (pool: ConnectionPool) => Promise<void>, reconnect = false, scheme = 'ws'): Promise<void> {
  const pool = await createPool({
    template: `${scheme}://127.0.0.1:${port}/ws/{i}`,
    firstIndex: 0,
    capacity,
    transport: 'ws',
    sourceAddresses: [],
    portRange: [32768, 60999],
    maxConnecting: 500,
    connectTimeoutMs: 3000,
    reconnect,
    backoffBaseMs: 50,
    backoffMaxMs: 200,
  });
  try {
    await fn(pool);
  } finally {
    pool.stop();
  }
}

test('ws server: messages of every shape counted once with latency, pings answered, a 4000 close echoed and counted', { timeout: 30_000 }, async () => {
  const p = await peer((ws) => {
    ws.send('Welcome');
    ws.send(messageLine(nowMs() - 250, 'stamped'));
    ws.send(messageLine(nowMs() - 250, 'frag'), { fin: false });
    ws.ping('are you there');
    ws.send('-ment', { fin: true });
    ws.send(`${messageLine(nowMs() - 250, 'long')} ${'x'.repeat(70_000)}`); // a 64-bit length
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
  });
  try {
    await withPool(p.port, 40, async (pool) => {
      pool.ramp(40, 0);
      await untilStatus<Status>(pool, '40 active, 5 messages each', (s) => s.active === 40 && s.chunks === 200);
      const s = pool.status();
      assert.equal(s.messages, 120, 'three stamped messages each (one of them fragmented)');
      assert.ok(s.latencyMs.p50 >= 250 && s.latencyMs.max < 1250, JSON.stringify(s.latencyMs));
      await waitFor('40 pongs', () => p.pongs === 40, 5000);
      for (const ws of p.wss.clients) ws.close(4000, 'test over');
      await untilStatus<Status>(pool, '40 closed by the server', (st) => st.closed === 40);
      const end = pool.status() as Status;
      assert.deepEqual(end.wsCloseCodes, { 4000: 40 });
      assert.equal(end.errors.ws_close, 40);
      assert.equal(end.errors.protocol, 0);
      await waitFor('the library got our close frames', () => p.closesFromClient.length === 40, 5000);
      assert.deepEqual([...new Set(p.closesFromClient)], [4000], 'echoed code: the library parsed our masked close frame');
    });
  } finally {
    await p.close();
  }
});

test('refusals: a 401 is an http_status, a 101 with a wrong accept is a handshake failure', { timeout: 30_000 }, async () => {
  const refusing = await peer(() => {}, () => false);
  const wrongAccept = await scriptedServer((s) =>
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'),
  );
  try {
    await withPool(refusing.port, 10, async (pool) => {
      pool.ramp(10, 0);
      await untilStatus<Status>(pool, '10 refused', (s) => s.errors.http_status === 10);
      assert.deepEqual((pool.status() as Status).httpStatuses, { 401: 10 });
    });
    await withPool(wrongAccept.port, 10, async (pool) => {
      pool.ramp(10, 0);
      await untilStatus<Status>(pool, '10 handshake failures', (s) => s.errors.handshake === 10);
      assert.equal(pool.status().active, 0);
    }, false, 'http');
  } finally {
    await refusing.close();
    await wrongAccept.close();
  }
});

test('with --reconnect, connections the server closed (1011) come back after a backoff', { timeout: 30_000 }, async () => {
  let accepted = 0;
  const p = await peer((ws) => {
    accepted++;
    ws.send('hello');
  });
  try {
    await withPool(p.port, 30, async (pool) => {
      pool.ramp(30, 0);
      await untilStatus<Status>(pool, '30 active', (s) => s.active === 30);
      for (const ws of p.wss.clients) ws.close(1011, 'restarting');
      await untilStatus<Status>(pool, '30 closed, then 30 active again', (s) => s.closed === 30 && s.active === 30);
      assert.equal(accepted, 60);
      assert.deepEqual((pool.status() as Status).wsCloseCodes, { 1011: 30 });
    }, true);
  } finally {
    await p.close();
  }
});
