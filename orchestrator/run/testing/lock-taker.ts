/**
 * One flood's lock, taken by a process of its own (flood-lock.test.ts starts several to race them): prints `ready`,
 * waits for a line on stdin, takes the lock at LOCK (argv[2]), holds it HOLD ms (argv[3]), checks the file still
 * names it, releases it, and prints one JSON line: {got, stillMine} or {busy: pid} or {error: code}.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { takeFloodLock } from '../flood-lock.ts';
import { LabError } from '../../../shared/errors.ts';

const [path, hold] = [process.argv[2]!, Number(process.argv[3] ?? 0)];
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await once(lines, 'line');
lines.close();
try {
  const lock = await takeFloodLock({ backend: 'local', n: 1 }, { path });
  await sleep(hold);
  let stillMine = false;
  try {
    stillMine = (JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid === process.pid;
  } catch {
    // gone or unreadable: not ours
  }
  lock.release();
  process.stdout.write(`${JSON.stringify({ got: true, stillMine })}\n`);
} catch (err) {
  const busy = /pid (\d+)/.exec((err as Error).message);
  process.stdout.write(`${JSON.stringify(err instanceof LabError && err.code === 'LAB_ERR_BUSY' ? { busy: Number(busy?.[1]) } : { error: err instanceof LabError ? err.code : `raw ${(err as NodeJS.ErrnoException).code}` })}\n`);
}
