/**
 * What the connection pool's tests share: a PoolSpec for a loopback test server, a pool that is stopped however the
 * test ends, a wait on the pool's status, and the kernel's own count of the pool's connections.
 */
import { execFileSync } from 'node:child_process';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';
import { createPool, type PoolSpec } from '../pool-spec.ts';
import type { ConnectionPool } from '../pool.ts';

/** `capacity` chunked streams of `http://127.0.0.1:<port>/test/{i}`, no reconnects, short timeouts; `more` overrides. */
export function poolSpec(port: number, capacity: number, more: Partial<PoolSpec> = {}): PoolSpec {
  return {
    template: `http://127.0.0.1:${port}/test/{i}`,
    firstIndex: 0,
    capacity,
    transport: 'chunked',
    sourceAddresses: [],
    portRange: [32768, 60999],
    maxConnecting: 500,
    connectTimeoutMs: 2000,
    reconnect: false,
    backoffBaseMs: 50,
    backoffMaxMs: 200,
    ...more,
  };
}

/** Runs `fn` with a pool made from `spec`, stopped afterwards whatever `fn` did. */
export async function withPool(spec: PoolSpec, fn: (pool: ConnectionPool) => Promise<void>): Promise<void> {
  const pool = await createPool(spec);
  try {
    await fn(pool);
  } finally {
    pool.stop();
  }
}

/** Waits until `check` holds for the pool's status (read every `everyMs`); the last status is in the time-out. */
export function untilStatus<S extends LoadgenStatus = LoadgenStatus>(pool: ConnectionPool, what: string, check: (s: S) => boolean, ms = 10_000, everyMs = 20): Promise<true> {
  return waitFor(what, () => check(pool.status() as S), ms, { everyMs, describe: () => pool.status() });
}

/**
 * ESTABLISHED client sockets to the test server on 127.0.0.1:`port`, as `ss` sees them: destination address AND
 * port, since a socket elsewhere on the host whose peer happens to use the same port number (a client of another
 * server, bound to another address) also has that dport.
 */
export function ssEstablished(port: number): number {
  const out = execFileSync('ss', ['-Htan', 'state', 'established', `( dst 127.0.0.1 and dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').length;
}
