/**
 * One suite for every memory probe: a real child process touches 200 MiB and each probe must see it, within what a
 * Node process adds around it. Probes that cannot run on this host are skipped with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { ComponentCgroup, detectCgroup, removeRunDir } from '../local/cgroup.ts';
import { CgroupV1MemoryProbe } from './memory-probe-cgroup-v1.ts';
import { CgroupV2MemoryProbe } from './memory-probe-cgroup-v2.ts';
import { ProcMemoryProbe } from './memory-probe-proc.ts';
import type { MemoryProbe } from '../backend.ts';

const NODE = process.execPath;
const MIB = 2 ** 20;
const HOG = `const b = Buffer.alloc(200 * ${MIB}, 1); console.log('ready'); setInterval(() => b[0]++, 1000);`;
const layout = detectCgroup();

async function startHog(command: string[]): Promise<ChildProcess> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return child;
}

async function check(probe: MemoryProbe, method: string): Promise<void> {
  const r = await probe.read();
  assert.equal(r.method, method);
  assert.ok(r.workingSetBytes >= 200 * MIB, `${method} saw ${r.workingSetBytes / MIB} MiB, expected >= 200`);
  assert.ok(r.workingSetBytes < 400 * MIB, `${method} saw ${r.workingSetBytes / MIB} MiB, expected < 400`);
  assert.ok(r.cpuSeconds === undefined || r.cpuSeconds >= 0);
}

test('proc-rss: RSS summed over the process tree', async () => {
  const child = await startHog([NODE, '-e', HOG]);
  try {
    await check(new ProcMemoryProbe(() => child.pid), 'proc-rss');
  } finally {
    child.kill('SIGKILL');
  }
});

for (const version of ['v1', 'v2'] as const) {
  const skip = layout?.version !== version ? `cgroup ${version} is not writable here (${layout ? `host has ${layout.version}` : 'no cgroup'})` : false;
  test(`cgroup-${version}: usage minus inactive file, and the group is removed even with a live process inside`, { skip }, async () => {
    const run = `probe-test-${process.pid}`;
    const cg = new ComponentCgroup(layout!, run, 'hog');
    let child: ChildProcess | undefined;
    try {
      child = await startHog(cg.wrapCommand([NODE, '-e', HOG], 20000));
      assert.deepEqual(cg.pids(), [child.pid]);
      const probe = version === 'v1' ? new CgroupV1MemoryProbe(cg.path, () => child!.pid) : new CgroupV2MemoryProbe(cg.path);
      await check(probe, `cgroup-${version}`);
      const r = await probe.read();
      assert.ok(r.kernelSocketBytes === undefined || r.kernelSocketBytes >= 0);
      assert.ok(r.kernelBytes! > 0 && r.kernelBytes! < r.workingSetBytes, `kernel memory ${r.kernelBytes} is part of the working set`);
    } finally {
      await cg.remove();
      removeRunDir(layout!, run);
    }
    assert.equal(existsSync(cg.path), false);
    assert.equal(child!.signalCode ?? (await once(child!, 'exit'))[1], 'SIGKILL');
  });
}
