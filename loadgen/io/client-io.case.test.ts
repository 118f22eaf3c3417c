/**
 * The one suite both ios pass (raw libuv handles, net.Socket): the pool over each holds connections the server and
 * `ss` agree on, counts chunks per chunk, counts every failure by its cause, walks on past local ports whose 4-tuple
 * is taken (raw learns it at connect(), net a tick later), and counts a stream the server ends as closed.
 * Nothing is skipped for either.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { waitFor } from '../../shared/testing/wait-for.ts';
import { chunk, CHUNKED_HEAD, closedPort, scriptedServer } from '../testing/scripted-server.ts';
import { IO_NAMES } from './client-io.ts';
import { poolSpec, ssEstablished, untilStatus, withPool } from '../testing/pool-harness.ts';

for (const io of IO_NAMES) {
  describe(`io ${io}`, () => {
    test('holds connections the server and ss agree on; chunks counted per chunk; the status names the io', { timeout: 30_000 }, async () => {
      const server = await scriptedServer((s) => {
        s.write(CHUNKED_HEAD + chunk('Welcome\n') + chunk('Chunk 1\n'));
        const third = chunk('Chunk 2 split over two writes\n');
        s.write(third.slice(0, 7));
        setTimeout(() => s.write(third.slice(7)), 30);
      });
      try {
        await withPool(poolSpec(server.port, 300, { io }), async (pool) => {
          pool.ramp(300, 0);
          await untilStatus(pool, '300 active and 900 chunks', (s) => s.active === 300 && s.chunks === 900);
          assert.equal(server.sockets.size, 300);
          assert.equal(ssEstablished(server.port), 300);
          assert.equal(pool.status().io, io);
          assert.deepEqual(Object.values(pool.status().errors).filter((v) => v !== 0), [], JSON.stringify(pool.status().errors));
        });
        await waitFor('sockets closed after stop', () => ssEstablished(server.port) === 0, 5000);
      } finally {
        await server.close();
      }
    });

    test('failures are counted by cause: refused, reset before the head, no answer (timeout), server ended the stream', { timeout: 30_000 }, async () => {
      const reset = await scriptedServer((s) => s.resetAndDestroy());
      const silent = await scriptedServer(() => {});
      const ends = await scriptedServer((s) => s.end(CHUNKED_HEAD + chunk('bye\n') + '0\r\n\r\n'));
      const refused = await closedPort();
      const urls = [refused, reset.port, silent.port, ends.port].map((p) => `http://127.0.0.1:${p}/x`);
      try {
        await withPool({ ...poolSpec(0, 12, { io, connectTimeoutMs: 500, connectRetries: 0 }), template: undefined, urls }, async (pool) => {
          pool.ramp(12, 0);
          await untilStatus(pool, 'every connection settled', (s) => s.rampDone && s.connecting === 0 && s.closed === 3);
          const s = pool.status();
          assert.equal(s.errors.refused, 3);
          assert.equal(s.errors.reset, 3);
          assert.equal(s.errors.timeout, 3);
          assert.equal(s.closed, 3, 'a stream the server ended is a closed connection, not an error');
          assert.equal(s.chunks, 3);
          assert.equal(s.active, 0);
        });
      } finally {
        for (const s of [reset, silent, ends]) await s.close();
      }
    });

    test('walks on past local ports whose 4-tuple is taken, and says addrnotavail when none is left', { timeout: 30_000 }, async () => {
      const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hi\n')));
      // A source address and ten ports of its own; the first three are taken by sockets this test holds.
      const source = `127.0.${io === 'raw' ? 91 : 92}.${1 + (process.pid % 250)}`;
      const lo = 40000 + (process.pid % 20000);
      const taken: net.Socket[] = [];
      try {
        for (let k = 0; k < 3; k++) {
          const s = net.connect({ host: '127.0.0.1', port: server.port, localAddress: source, localPort: lo + k });
          await new Promise((r) => s.once('connect', r));
          taken.push(s);
        }
        await withPool(poolSpec(server.port, 8, { io, sourceAddresses: [source], portRange: [lo, lo + 9] }), async (pool) => {
          pool.ramp(8, 0);
          await untilStatus(pool, 'all 8 tried', (s) => s.rampDone && s.connecting === 0);
          const s = pool.status();
          assert.equal(s.active, 7, 'the seven free ports carry a connection each');
          assert.equal(s.errors.addrnotavail, 1, 'the eighth found no free port');
          assert.equal(server.sockets.size, 10);
        });
      } finally {
        for (const s of taken) s.destroy();
        await server.close();
      }
    });
  });
}
