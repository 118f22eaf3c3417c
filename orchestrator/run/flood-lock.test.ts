/**
 * The flood lock's races, with real processes (testing/lock-taker.ts, each released by a line on its stdin so they
 * start together): a lock file just created and not yet written is not taken over; several floods that find a dead
 * owner's lock at once leave exactly one holder; a lock in a folder this user cannot write is a coded error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { processStartTicks } from './flood-lock.ts';

const TAKER = fileURLToPath(new URL('./testing/lock-taker.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'comet-lab-lock-'));
chmodSync(work, 0o755);
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Taker {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  result: Promise<{ got?: boolean; stillMine?: boolean; busy?: number; error?: string }>;
}

function taker(path: string, holdMs: number, as?: { uid: number; gid: number }): Taker {
  const child = spawn(process.execPath, [TAKER, path, String(holdMs)], { stdio: ['pipe', 'pipe', 'pipe'], ...(as ?? {}) });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    if (out.startsWith('ready\n')) onReady();
  });
  const result = new Promise<Taker['result'] extends Promise<infer R> ? R : never>((resolve, reject) => {
    child.on('exit', () => {
      const last = out.trim().split('\n').at(-1)!;
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`taker printed ${out}, stderr ${err}`));
      }
    });
  });
  return { child, ready, result };
}

const deadOwner = async () => {
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.on('exit', r));
  assert.equal(processStartTicks(dead.pid!), undefined);
  return JSON.stringify({ pid: dead.pid, startTicks: 1, startedAt: 'then', backend: 'local', n: 1 });
};

test('a lock file just created and not yet written is not taken over: its owner, once written, holds it', { timeout: 30_000 }, async () => {
  const path = join(work, 'empty.lock');
  const t = taker(path, 0);
  await t.ready;
  writeFileSync(path, ''); // an older flood between its open() and its write()
  t.child.stdin.end('go\n');
  await sleep(300);
  writeFileSync(path, JSON.stringify({ pid: process.pid, startTicks: processStartTicks(process.pid), startedAt: 'now', backend: 'local', n: 1 }));
  assert.deepEqual(await t.result, { busy: process.pid });
});

test('floods that find a dead owner\'s lock at once: exactly one takes it, and it stays theirs', { timeout: 60_000 }, async () => {
  for (let round = 0; round < 4; round++) {
    const path = join(work, `dead-${round}.lock`);
    writeFileSync(path, await deadOwner());
    const takers = Array.from({ length: 6 }, () => taker(path, 1500));
    await Promise.all(takers.map((t) => t.ready));
    for (const t of takers) t.child.stdin.end('go\n');
    const results = await Promise.all(takers.map((t) => t.result));
    const got = results.filter((r) => r.got);
    assert.equal(got.length, 1, `round ${round}: ${JSON.stringify(results)}`);
    assert.equal(got[0]!.stillMine, true, `round ${round}: the winner's lock was replaced`);
    assert.equal(existsSync(path), false, 'released');
    assert.deepEqual(readdirSync(work).filter((f) => f.startsWith(`dead-${round}.lock.`)), [], 'no temporary or breaker file left');
  }
});

test('a lock in a folder this user cannot write: LAB_ERR_FLOOD_LOCK, not a raw EACCES', { skip: process.getuid?.() !== 0 ? 'needs root to run a taker as another user' : false, timeout: 30_000 }, async () => {
  const dir = join(work, 'root-only');
  mkdirSync(dir, { mode: 0o755 });
  const t = taker(join(dir, 'flood.lock'), 0, { uid: 65534, gid: 65534 });
  await t.ready;
  t.child.stdin.end('go\n');
  assert.deepEqual(await t.result, { error: 'LAB_ERR_FLOOD_LOCK' });
});
