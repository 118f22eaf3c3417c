/**
 * One flood per host at a time. Two floods at once both reported "complete" while sharing the local backend's source
 * addresses (127.0.1.k, which each load generator walks from the start of its port range) and mixing host-wide
 * figures (slab, /proc/net/sockstat) into each other's reports (measured 2026-11-30). A flood therefore holds a lock
 * file naming its pid, the pid's start time (so a recycled pid is not mistaken for it) and its report folder; a
 * second flood refuses with LAB_ERR_BUSY, or waits up to LAB_FLOOD_WAIT when asked to (scripted back-to-back runs).
 * A lock whose owner is gone (a SIGKILLed orchestrator) is taken over.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, LabError } from '../../shared/errors.ts';

export const DEFAULT_LOCK_PATH = '/run/comet-lab/flood.lock';

export interface LockOwner {
  pid: number;
  startTicks: number; // /proc/<pid>/stat field 22: tells a live owner from a recycled pid
  startedAt: string;
  backend: string;
  n: number;
  reportDir?: string;
}

/** Start time of a process in clock ticks since boot, or undefined when it is gone. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

const alive = (o: LockOwner) => processStartTicks(o.pid) === o.startTicks;

/** Takes the lock once, or returns its live owner. A dead owner's lock (or an unreadable one) is removed first. */
function tryTake(path: string, me: LockOwner): LockOwner | undefined {
  for (let i = 0; i < 3; i++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(path);
    if (owner && alive(owner)) return owner;
    rmSync(path, { force: true }); // its orchestrator was killed: take over
  }
  return readOwner(path);
}

export interface FloodLock {
  release(): void;
}

/**
 * The host's flood lock, or LAB_ERR_BUSY (preflight: nothing started) naming the flood that holds it. With
 * `waitMs`, waits that long for it first, calling `onWait` once.
 */
export async function takeFloodLock(
  owner: Omit<LockOwner, 'pid' | 'startTicks' | 'startedAt'>,
  options: { path?: string; waitMs?: number; onWait?: (holder: LockOwner) => void } = {},
): Promise<FloodLock> {
  let path = options.path ?? DEFAULT_LOCK_PATH;
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch {
    path = join(tmpdir(), 'comet-lab-flood.lock'); // not root: /run is not ours; every user's floods still meet here
  }
  const me: LockOwner = { pid: process.pid, startTicks: processStartTicks(process.pid) ?? 0, startedAt: new Date().toISOString(), ...owner };
  const deadline = Date.now() + (options.waitMs ?? 0);
  let told = false;
  for (;;) {
    const holder = tryTake(path, me);
    if (!holder) break;
    if (Date.now() >= deadline) {
      throw new LabError('LAB_ERR_BUSY', `another flood is running on this host: pid ${holder.pid}, ${holder.backend} backend, N=${holder.n}, since ${holder.startedAt}${holder.reportDir ? `, report ${holder.reportDir}` : ''}`, {
        exitCode: EXIT.preflight,
        hint: 'two floods at once would share source addresses and mix host-wide kernel figures: wait for it to end (LAB_FLOOD_WAIT=10m waits), or stop it',
      });
    }
    if (!told) options.onWait?.(holder);
    told = true;
    await sleep(Math.min(1000, Math.max(10, deadline - Date.now())));
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const now = readOwner(path);
      if (now?.pid === me.pid && now.startTicks === me.startTicks) rmSync(path, { force: true });
    },
  };
}
