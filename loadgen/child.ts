/**
 * A child process of a multi-process load generator: one pool under the per-process file limit, driven by its
 * parent over IPC. It exits when the parent says stop, and also when the IPC channel closes (the parent died, even
 * by SIGKILL), so no child outlives its parent.
 */
import type { FromChild, ToChild } from './child-protocol.ts';
import type { ConnectionPool } from './pool.ts';
import { createPool } from './pool-spec.ts';

let pool: ConnectionPool | undefined;

function send(message: FromChild): void {
  if (process.connected) process.send!(message);
}

process.on('disconnect', () => {
  pool?.stop();
  process.exit(0);
});
// The parent handles Ctrl-C for the whole group: a child waits for its stop message (or the channel closing).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {
  pool?.stop();
  process.exit(0);
});

process.on('message', (raw) => {
  const m = raw as ToChild;
  switch (m.t) {
    case 'init':
      createPool(m.spec).then(
        (p) => {
          pool = p;
          send({ t: 'ready' });
        },
        (err: unknown) => {
          send({ t: 'fatal', message: err instanceof Error ? err.message : String(err) });
          process.exit(1);
        },
      );
      return;
    case 'ramp':
      pool?.ramp(m.target, m.rate);
      return;
    case 'status':
      if (pool) send({ t: 'status', id: m.id, data: pool.statusWithHistogram() });
      return;
    case 'reset':
      pool?.resetLatency();
      send({ t: 'reset', id: m.id });
      return;
    case 'sample':
      send({ t: 'sample', id: m.id, data: pool ? pool.sampleActive(m.n) : { active: 0, ids: [] } });
      return;
    case 'stop':
      if (pool) {
        pool.stop();
        send({ t: 'stopped', id: m.id, data: pool.statusWithHistogram() });
      }
      // Let the IPC message flush, then leave.
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
