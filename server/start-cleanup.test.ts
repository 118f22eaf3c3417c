/**
 * A server start that fails once it holds its port (here: its internal API socket cannot be made, TMPDIR is not a
 * directory) gives back what it took: the sockets holding its port are closed, no exit hook and no timer is left,
 * and the error is LAB_ERR_LISTEN naming the socket. Before, the port stayed held and the exit hook stayed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { LabError } from '../shared/errors.ts';
import { DEFAULTS } from './config.ts';
import { startServer } from './server.ts';

/** Sockets this process has open, read from /proc/self/fd (the reservation's handles are bound, not listening:
 * `ss` does not list them, and a bind with SO_REUSEADDR succeeds beside them). */
function openSockets(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile (the directory's own fd)
    }
  }
  return n;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

for (const engine of ['raw', 'net'] as const) {
  test(`${engine} engine: a start whose API socket cannot listen closes the sockets holding its port and leaves no exit hook or timer`, async () => {
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = '/proc/self/no-such-dir'; // os.tmpdir(): where the API socket goes
    const port = await freePort();
    const hooks = process.listenerCount('exit');
    const sockets = openSockets();
    let err: unknown;
    try {
      await startServer({ ...DEFAULTS, hosts: ['127.0.0.1'], port, workers: 1, engine }).then(
        (s) => s.stop().then(() => assert.fail('the start must fail')),
        (e: unknown) => (err = e),
      );
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    assert.equal(process.listenerCount('exit'), hooks, 'no exit hook left behind');
    assert.equal(openSockets(), sockets, `the sockets holding port ${port} are closed`);
    // the timers it started (idle GC, the lean API's sweep) are stopped: nothing of it keeps this process alive
    const kept = process.getActiveResourcesInfo().filter((r) => r === 'Timeout');
    assert.deepEqual(kept, [], 'no timer left');
    assert.ok(err instanceof LabError, String(err));
    assert.equal(err.code, 'LAB_ERR_LISTEN');
    assert.match(err.message, /no-such-dir\/comet-lab-api-\d+-\d+\.sock/);
  });
}
