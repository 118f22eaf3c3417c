/**
 * A component's own memory, as it reports it through its API (`cgroupMemory` of the server's /stats and the load
 * generator's /status, read from inside its cgroup), against the same cgroup read from outside by the cgroup probe:
 * a real server holding 3,000 streams from a real load generator, each in its own memory cgroup. Skipped where no
 * cgroup can be made (then the local backend has none either).
 */
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../flood.ts';
import { loadgenStatus, ramp, serverStats } from '../../run/control.ts';
import { ComponentCgroup, detectCgroup, removeRunDir } from '../local/cgroup.ts';
import { spawnComponent, type SpawnedComponent } from '../local/spawn-component.ts';
import type { MemoryProbe } from '../backend.ts';
import { CgroupV1MemoryProbe } from './memory-probe-cgroup-v1.ts';
import { CgroupV2MemoryProbe } from './memory-probe-cgroup-v2.ts';
import { StatusMemoryProbe } from './status-memory-probe.ts';

const layout = detectCgroup();
const run = `${process.pid}-statusprobe-${Math.random().toString(16).slice(2, 8)}`;
const N = 3000;
const MIB = 2 ** 20;
const parts: Array<{ cg: ComponentCgroup; proc: SpawnedComponent; outside: MemoryProbe; url: string }> = [];

async function start(name: 'server' | 'loadgen', args: string[]): Promise<(typeof parts)[number]> {
  const cg = new ComponentCgroup(layout!, run, name);
  const proc = await spawnComponent(cg.wrapCommand([process.execPath, ...args], 20000), name, { timeoutMs: 30_000, cwd: REPO_ROOT });
  const outside = cg.version === 'v1' ? new CgroupV1MemoryProbe(cg.path, () => proc.child.pid) : new CgroupV2MemoryProbe(cg.path);
  const port = name === 'server' ? proc.ready.port : proc.ready.controlPort;
  const p = { cg, proc, outside, url: `http://127.0.0.1:${port}` };
  parts.push(p);
  return p;
}

before(async () => {
  if (!layout) return;
  const server = await start('server', ['server/cli.ts', '--port', '0', '--workers', '1', '--interval', '5s']);
  const loadgen = await start('loadgen', [
    'loadgen/cli.ts', `--url=${server.url}/test/{i}`, `--count=${N}`, '--rate=0', '--control-port=0', '--duration=120s',
  ]);
  const token = readFileSync(String(loadgen.proc.ready.controlTokenFile), 'utf8').trim(); // POST /ramp needs it
  await ramp(loadgen.url, { target: N, rate: 0 }, token);
  for (let i = 0; i < 100 && (await serverStats(server.url)).open.total < N; i++) await sleep(200);
  assert.equal((await loadgenStatus(loadgen.url)).active, N);
}, { timeout: 60_000 });

after(async () => {
  for (const p of parts) {
    p.proc.child.kill('SIGKILL');
    await p.cg.remove();
  }
  if (layout) removeRunDir(layout, run);
});

test('server and load generator report their own cgroup memory through their APIs, as the cgroup reads from outside', { skip: layout ? false : 'no writable memory cgroup here' }, async () => {
  for (const [i, p] of parts.entries()) {
    const role = i === 0 ? 'server' : 'loadgen';
    // Inside and outside, read one right after the other; memory moves a little between the two reads.
    const inside = await new StatusMemoryProbe(p.url, role, p.outside).read();
    assert.equal(inside.method, `cgroup-${layout!.version}-inside`);
    assert.ok(inside.crossCheck, 'the cross-check ran');
    const diff = Math.abs(inside.workingSetBytes - inside.crossCheck.workingSetBytes);
    assert.ok(diff <= Math.max(2 * MIB, 0.05 * inside.crossCheck.workingSetBytes), `${role}: inside ${inside.workingSetBytes}, outside ${inside.crossCheck.workingSetBytes}`);
    // 3,000 sockets cost kernel memory on either side (v1 kmem: about 3.8 KB each, kernel/costs.ts).
    if (inside.kernelBytes !== undefined) assert.ok(inside.kernelBytes > N * 2000, `${role}: kernel ${inside.kernelBytes}`);
    assert.ok(inside.workingSetBytes > 20 * MIB, `${role}: ${inside.workingSetBytes}`);
  }
});

test('a component with no readable cgroup answer is an error, not a zero', async () => {
  const http = await import('node:http');
  const srv = http.createServer((_q, r) => r.end('{"open":{"total":0}}')).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  try {
    const port = (srv.address() as { port: number }).port;
    await assert.rejects(new StatusMemoryProbe(`http://127.0.0.1:${port}`, 'server').read(), /reports no cgroupMemory/);
  } finally {
    srv.close();
  }
});
