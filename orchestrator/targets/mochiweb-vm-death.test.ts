/**
 * mochiweb with several Erlang VMs behind one shell (one per planned server worker): when one VM dies, the server
 * is reported dead with why, and the other VMs are stopped with it. Real erl/mochiweb on loopback, local backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from '../flood.ts';
import { makePlan } from '../plan/planner.ts';
import { LocalBackend } from '../backends/local/local-backend.ts';
import { alive } from '../../shared/testing/processes.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';
import { mochiwebTarget } from './mochiweb.ts';

/** The pids listening on a loopback port, as the kernel reports them (every VM has a SO_REUSEPORT socket). */
function listenerPids(port: number): number[] {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
}

const target = mochiwebTarget();
const missing = await target.preflight().then(() => false, (e: Error) => e.message);

test('one of two mochiweb VMs killed: the server is reported dead with why, the other VM is stopped', { skip: missing, timeout: 60_000 }, async (t) => {
  const plan = makePlan(
    { n: 100, backend: 'local', engine: '', transport: 'chunked', rate: 1000, holdSeconds: 5, intervalSeconds: 1, serverPort: 0, workers: 2, loadgenProcs: 1 },
    { connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 8 * 2 ** 30, cores: 2 },
  );
  target.adaptPlan(plan);
  const backend = new LocalBackend({ runId: `${process.pid}-mochi-${randomBytes(3).toString('hex')}`, lifetimeSeconds: 60, cwd: REPO_ROOT, server: target.launchLocal });
  try {
    const adopted = await backend.up(plan);
    const server = backend.components().find((c) => c.role === 'server')!;
    const vms = await waitFor('both VMs listening', () => {
      const p = listenerPids(adopted.server.port);
      return p.length === 2 ? p : undefined;
    }, 20_000);
    process.kill(vms[0]!, 'SIGKILL');
    const why = await waitFor('the server\'s death to be reported', () => server.exited(), 10_000, { everyMs: 100 });
    t.diagnostic(`server.exited(): ${why}`);
    assert.match(why, /exit code 137/);
    assert.match(why, /one of the 2 Erlang VMs ended with status 137/);
    await waitFor('the other VM to be stopped', () => !alive(vms[1]!), 15_000, { everyMs: 100 });
  } finally {
    await backend.stop();
  }
});
