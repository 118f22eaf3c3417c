/**
 * ownTempDir: a folder named by its owner's pid, and the folders of dead owners swept when the next one is made
 * (a real process is started and SIGKILLed so its pid is a dead one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ownTempDir } from './temp-dir.ts';

test('a folder named by this pid; a dead owner\'s folder of the same prefix is removed, a live one\'s and other names are not', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'temp-dir-test-'));
  try {
    const child = spawn('sleep', ['30']);
    const deadPid = child.pid!;
    child.kill('SIGKILL');
    await once(child, 'exit');
    const dead = join(parent, `lab-x-${deadPid}-abc123`);
    const live = join(parent, `lab-x-${process.pid}-def456`);
    const other = join(parent, `lab-y-${deadPid}-abc123`);
    for (const d of [dead, live, other]) mkdirSync(d);
    const mine = ownTempDir('lab-x-', parent);
    assert.match(basename(mine), new RegExp(`^lab-x-${process.pid}-[A-Za-z0-9]{6}$`));
    assert.ok(existsSync(mine));
    assert.equal(existsSync(dead), false, 'the dead owner\'s folder is swept');
    assert.ok(existsSync(live), 'a live owner\'s folder stays');
    assert.ok(existsSync(other), 'another prefix is not touched');
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
