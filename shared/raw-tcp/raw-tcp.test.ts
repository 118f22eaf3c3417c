import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  bindRaw,
  boundPort,
  closeRaw,
  connectRaw,
  errName,
  listenRaw,
  RawListenError,
  RawReader,
  shutdownRaw,
  type TcpHandle,
  writeRaw,
  queuedBytes,
} from './raw-tcp.ts';

/** A raw echo server that upper-cases nothing: it answers each read with `echo:<data>` and closes on EOF. */
function echoServer() {
  const handles = new Set<TcpHandle>();
  const reader = new RawReader(
    (h, data) => writeRaw(h, `echo:${data.toString('utf8')}`),
    (h, err) => {
      h.endErr = err;
      handles.delete(h);
      closeRaw(h);
    },
  );
  const listener = listenRaw({
    host: '127.0.0.1',
    port: 0,
    onConnection(h) {
      handles.add(h);
      reader.start(h);
    },
  });
  return { listener, handles };
}

function rawRequest(port: number, payload: string, localPort?: number): Promise<{ text: string; local: number }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const reader = new RawReader(
      (_h, data) => {
        text += data.toString('utf8');
      },
      (h) => {
        const out: { port?: number } = {};
        h.getsockname(out);
        closeRaw(h);
        resolve({ text, local: out.port ?? 0 });
      },
    );
    const err = connectRaw(
      { host: '127.0.0.1', port, localAddress: localPort === undefined ? undefined : '127.0.0.1', localPort },
      (status, h) => {
        if (status !== 0) return reject(new Error(errName(status)));
        reader.start(h);
        assert.equal(writeRaw(h, payload), 0);
        // let the echo come back before half-closing
        setTimeout(() => shutdownRaw(h), 50);
      },
    );
    if (err !== 0) reject(new Error(errName(err)));
  });
}

test('a raw client and a raw server exchange bytes (UTF-8 included) and see EOF', async () => {
  const { listener } = echoServer();
  try {
    const { text } = await rawRequest(listener.port, 'héllo');
    assert.equal(text, 'echo:héllo');
  } finally {
    await listener.close();
  }
});

test('the raw server speaks to net.Socket clients', async () => {
  const { listener } = echoServer();
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const s = net.connect(listener.port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d;
        s.end();
      });
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.write('ping');
    });
    assert.equal(text, 'echo:ping');
  } finally {
    await listener.close();
  }
});

test('connect can bind a chosen local port', async () => {
  const { listener } = echoServer();
  try {
    const probe = bindRaw('127.0.0.1', 0, false);
    const free = boundPort(probe);
    closeRaw(probe);
    const { text, local } = await rawRequest(listener.port, 'x', free);
    assert.equal(text, 'echo:x');
    assert.equal(local, free);
  } finally {
    await listener.close();
  }
});

test('connect to a closed port reports ECONNREFUSED through the callback', async () => {
  const probe = bindRaw('127.0.0.1', 0, false);
  const port = boundPort(probe);
  closeRaw(probe);
  await assert.rejects(rawRequest(port, 'x'), /ECONNREFUSED/);
});

test('two listeners share a port with reusePort; without it the second bind fails', async () => {
  const a = listenRaw({ host: '127.0.0.1', port: 0, reusePort: true, onConnection: (h) => closeRaw(h) });
  try {
    const b = listenRaw({ host: '127.0.0.1', port: a.port, reusePort: true, onConnection: (h) => closeRaw(h) });
    await b.close();
    assert.throws(
      () => listenRaw({ host: '127.0.0.1', port: a.port, onConnection: (h) => closeRaw(h) }),
      (e: unknown) => e instanceof RawListenError && e.code === 'EADDRINUSE',
    );
  } finally {
    await a.close();
  }
});

test('a large write is queued (writeQueueSize, queuedBytes) and completes; the done callback runs once; later writes keep their order', async () => {
  const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
  let serverHandle: TcpHandle | undefined;
  const listener = listenRaw({
    host: '127.0.0.1',
    port: 0,
    onConnection(h) {
      serverHandle = h;
    },
  });
  try {
    let tail = '';
    const received = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const reader = new RawReader(
        (_h, d) => {
          n += d.length;
          tail = (tail + d.toString('latin1')).slice(-16);
        },
        (h) => {
          closeRaw(h);
          resolve(n);
        },
      );
      connectRaw({ host: '127.0.0.1', port: listener.port }, (status, h) => {
        if (status !== 0) return reject(new Error(errName(status)));
        const wait = setInterval(() => {
          if (!serverHandle) return;
          clearInterval(wait);
          let calls = 0;
          assert.equal(queuedBytes(serverHandle), 0);
          assert.equal(
            writeRaw(serverHandle, big, (err) => {
              calls++;
              assert.equal(err, 0);
              assert.equal(calls, 1);
            }),
            0,
          );
          assert.ok(serverHandle.writeQueueSize > 0, 'an 8 MB write cannot complete at once');
          assert.equal(queuedBytes(serverHandle), serverHandle.writeQueueSize);
          // small writes behind a queued one wait their turn (each takes its own request object)
          for (const piece of ['<1>', '<2>']) assert.equal(writeRaw(serverHandle, piece), 0);
          assert.equal(
            writeRaw(serverHandle, Buffer.from('<3>'), (err) => {
              assert.equal(err, 0);
              assert.equal(calls, 1, 'the big write completed first');
              assert.equal(queuedBytes(serverHandle!), 0, 'nothing left in libuv');
              // and a write on an empty queue goes out at once, its callback synchronously
              let sync = false;
              assert.equal(writeRaw(serverHandle!, '<4>', () => (sync = true)), 0);
              assert.ok(sync, 'written at once');
              shutdownRaw(serverHandle!, () => closeRaw(serverHandle!));
            }),
            0,
          );
          reader.start(h);
        }, 5);
      });
    });
    assert.equal(received, big.length + 12);
    assert.equal(tail.slice(-16), 'aaaa<1><2><3><4>');
  } finally {
    await listener.close();
  }
});

test('writing to a handle whose peer reset returns an errno instead of throwing', async () => {
  let serverHandle: TcpHandle | undefined;
  const listener = listenRaw({ host: '127.0.0.1', port: 0, onConnection: (h) => (serverHandle = h) });
  try {
    await new Promise<void>((resolve) => {
      const s = net.connect(listener.port, '127.0.0.1', () => {
        s.resetAndDestroy();
        setTimeout(resolve, 50);
      });
    });
    assert.ok(serverHandle);
    let err = 0;
    for (let i = 0; i < 5 && err === 0; i++) err = writeRaw(serverHandle, 'x'.repeat(1000));
    assert.ok(err < 0, 'a write after RST fails');
    assert.match(errName(err), /EPIPE|ECONNRESET/);
    closeRaw(serverHandle);
  } finally {
    await listener.close();
  }
});
