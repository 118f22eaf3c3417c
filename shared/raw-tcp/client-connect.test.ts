import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { newClientHandle, SharedBufferReader, startConnect } from './client-connect.ts';
import { closeRaw, errName, writeRaw, type TcpHandle } from './raw-tcp.ts';

test('a caller-made handle connects from a chosen address and port, and reads land in the one shared buffer', async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', (d) => s.write(`echo:${d}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got: string[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let ended = 0;
    const reader = new SharedBufferReader(
      (h, buf, n) => {
        buffers.add(buf.buffer);
        got.push(`${h.tag}:${buf.toString('latin1', 0, n)}`);
        if (got.length === 2) for (const x of handles) closeRaw(x);
      },
      () => ended++,
    );
    const handles: TcpHandle[] = [];
    const locals: number[] = [];
    await Promise.all(
      [0, 1].map(
        (k) =>
          new Promise<void>((resolve, reject) => {
            const h = newClientHandle();
            h.tag = k;
            handles.push(h);
            const err = startConnect(h, '127.0.0.1', port, '127.0.0.5', 0, (status, handle) => {
              if (status !== 0) return reject(new Error(errName(status)));
              const out: { port?: number; address?: string } = {};
              handle.getsockname(out);
              assert.equal(out.address, '127.0.0.5');
              locals.push(out.port!);
              assert.equal(reader.start(handle), 0);
              assert.equal(writeRaw(handle, `hi${k}`), 0);
              resolve();
            });
            if (err !== 0) reject(new Error(errName(err)));
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(got.sort(), ['0:echo:hi0', '1:echo:hi1']);
    assert.equal(buffers.size, 1, 'every read used the same buffer');
    // The same chosen port again to the same destination: the 4-tuple is taken, reported at once.
    const again = newClientHandle();
    const held = newClientHandle();
    const chosen = 45000 + (process.pid % 1000);
    await new Promise<void>((resolve, reject) => {
      const err = startConnect(held, '127.0.0.1', port, '127.0.0.6', chosen, (s) => (s === 0 ? resolve() : reject(new Error(errName(s)))));
      if (err !== 0) reject(new Error(errName(err)));
    });
    assert.equal(errName(startConnect(again, '127.0.0.1', port, '127.0.0.6', chosen, () => {})), 'EADDRNOTAVAIL');
    closeRaw(again);
    closeRaw(held);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
