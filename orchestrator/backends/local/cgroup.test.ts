import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { ComponentCgroup, detectCgroup, reapOrphanRuns, removeRunDir } from './cgroup.ts';

const layout = detectCgroup();

test('a run whose orchestrator is gone is reaped: its processes killed, its groups removed; a live one is kept', { skip: layout ? false : 'no writable memory cgroup here' }, async () => {
  const orphan = '999999999-mwzzzzzz-abcdef'; // no such pid (above pid_max)
  const mine = `${process.pid}-mwzzzzzz-123456`; // this test's own pid: alive
  const dead = new ComponentCgroup(layout!, orphan, 'server');
  const live = new ComponentCgroup(layout!, mine, 'server');
  const child = spawn('/bin/sh', ['-c', `echo $$ > ${dead.path}/cgroup.procs; exec sleep 60`], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && dead.pids().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(dead.pids(), [child.pid]);
    const reaped = await reapOrphanRuns(layout!);
    assert.ok(reaped.includes(orphan), `reaped: ${reaped}`);
    assert.ok(!reaped.includes(mine));
    assert.equal(existsSync(dead.path), false);
    assert.equal(existsSync(live.path), true);
    const [, signal] = child.exitCode === null && child.signalCode === null ? await once(child, 'exit') : [child.exitCode, child.signalCode];
    assert.equal(signal, 'SIGKILL');
  } finally {
    child.kill('SIGKILL');
    await dead.remove();
    await live.remove();
    removeRunDir(layout!, orphan);
    removeRunDir(layout!, mine);
  }
});
