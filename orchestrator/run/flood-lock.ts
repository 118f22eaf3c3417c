/**
 * One flood per host at a time. Two floods at once both reported "complete" while sharing the local backend's source
 * addresses (127.0.1.k, which each load generator walks from the start of its port range) and mixing host-wide
 * figures (slab, /proc/net/sockstat) into each other's reports (measured 2026-11-30). A flood therefore holds a lock
 * file naming its pid, the pid's start time (so a recycled pid is not mistaken for it) and its report folder; a
 * second flood refuses with LAB_ERR_BUSY, or waits up to LAB_FLOOD_WAIT when asked to (scripted back-to-back runs).
 * A lock whose owner is gone (a SIGKILLed orchestrator) is taken over.
 *
 * Races, and how they are closed (flood-lock.test.ts runs each with real processes):
 * - The lock is written whole to a temporary file, then link()ed into place: it exists complete or not at all (before,
 *   open-then-write left an empty file for a moment, which a second flood read as unreadable, removed and took).
 * - A dead owner's lock is removed only by whoever holds `<lock>.break` (also placed by link()), and only if the
 *   lock still reads as the dead owner's: two floods that both saw the dead owner can no longer both remove and
 *   recreate it, the second removing the first's new lock. (A flood killed while holding `.break`, a window of
 *   microseconds, leaves it to the next one, which removes it once its owner is dead.)
 * Node has no flock(2) without an addon, hence files and link().
 */
import { accessSync, chmodSync, closeSync, constants, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, LabError } from '../../shared/errors.ts';

export const DEFAULT_LOCK_PATH = '/run/comet-lab/flood.lock';
/** Where a flood that cannot write /run/comet-lab (not root, and no root flood made the folder shared yet) locks. */
export const FALLBACK_LOCK_PATH = join(tmpdir(), 'comet-lab-flood.lock');

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

const alive = (o: LockOwner) => processStartTicks(o.pid) === o.startTicks;
const code = (err: unknown) => (err as NodeJS.ErrnoException).code;
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function parseOwner(text: string | undefined): LockOwner | undefined {
  try {
    const o = JSON.parse(text ?? '') as LockOwner;
    return typeof o?.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** The lock's text, undefined when there is none. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return parseOwner(readText(path));
  } catch {
    return undefined;
  }
}

/**
 * The lock's text once it is readable. A lock written by an older flood (open, then write) is empty for a moment:
 * it is read again for up to UNREADABLE_GRACE_MS before it counts as garbage (and is taken over like a dead owner's).
 */
const UNREADABLE_GRACE_MS = 2000;
function settledText(path: string): string | undefined {
  const until = Date.now() + UNREADABLE_GRACE_MS;
  for (;;) {
    const text = readText(path);
    if (text === undefined || parseOwner(text) || Date.now() >= until) return text;
    pause(20);
  }
}

/** Links `tmp` (complete) to `path`: false when `path` exists already. */
function place(tmp: string, path: string): boolean {
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  }
}

/** Removes the lock if it still reads `stale`, holding `<lock>.break` meanwhile; false when another flood holds it. */
function breakStale(path: string, stale: string, tmp: string): boolean {
  const breaker = `${path}.break`;
  if (!place(tmp, breaker)) {
    const b = readOwner(breaker);
    if (b && !alive(b)) unlinkQuiet(breaker);
    return false;
  }
  try {
    if (readText(path) === stale) unlinkQuiet(path);
  } finally {
    unlinkQuiet(breaker);
  }
  return true;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}

/** Takes the lock once, or returns its live owner. A dead owner's lock (or a garbage one) is taken over. */
function tryTake(path: string, me: LockOwner): LockOwner | undefined {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, JSON.stringify(me));
  } finally {
    closeSync(fd);
  }
  try {
    for (let i = 0; i < 50; i++) {
      if (place(tmp, path)) return undefined;
      const text = settledText(path);
      if (text === undefined) continue; // released meanwhile
      const owner = parseOwner(text);
      if (owner && alive(owner)) return owner;
      if (!breakStale(path, text, tmp)) pause(20); // another flood is taking it over: see who wins
    }
    return readOwner(path) ?? { pid: 0, startTicks: 0, startedAt: 'unknown', backend: 'unknown', n: 0 };
  } finally {
    unlinkQuiet(tmp);
  }
}

/**
 * Root makes /run/comet-lab sticky and writable by all (like /tmp), so every user's floods lock in the same place;
 * false when this flood cannot write there (not root, and the folder is missing or was made by an older version).
 */
function usableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    if (process.getuid?.() === 0 && statSync(dir).uid === 0) chmodSync(dir, 0o1777);
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function lockError(path: string, err: unknown): LabError {
  return new LabError('LAB_ERR_FLOOD_LOCK', `cannot take the flood lock ${path}: ${(err as Error).message}`, {
    exitCode: EXIT.preflight,
    hint: code(err) === 'EACCES' || code(err) === 'EPERM'
      ? `it belongs to another user: run as that user or root, or remove it as root when no flood runs (rm ${path})`
      : 'set LAB_FLOOD_LOCK to a path in a writable folder',
    cause: err,
  });
}

export interface FloodLock {
  release(): void;
}

/**
 * The host's flood lock, or LAB_ERR_BUSY (preflight: nothing started) naming the flood that holds it. With
 * `waitMs`, waits that long for it first, calling `onWait` once. Without `path`: /run/comet-lab/flood.lock, or the
 * fallback in the temporary folder when this user cannot write there; either way the other place is read too, so a
 * flood holding that one is seen.
 */
export async function takeFloodLock(
  owner: Omit<LockOwner, 'pid' | 'startTicks' | 'startedAt'>,
  options: { path?: string; waitMs?: number; onWait?: (holder: LockOwner) => void } = {},
): Promise<FloodLock> {
  let path = options.path ?? DEFAULT_LOCK_PATH;
  let other: string | undefined;
  if (options.path) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw lockError(path, err);
    }
  } else if (usableDir(dirname(DEFAULT_LOCK_PATH))) other = FALLBACK_LOCK_PATH;
  else [path, other] = [FALLBACK_LOCK_PATH, DEFAULT_LOCK_PATH];
  const me: LockOwner = { pid: process.pid, startTicks: processStartTicks(process.pid) ?? 0, startedAt: new Date().toISOString(), ...owner };
  const deadline = Date.now() + (options.waitMs ?? 0);
  let told = false;
  const release = () => {
    const now = readOwner(path);
    if (now?.pid === me.pid && now.startTicks === me.startTicks) unlinkQuiet(path);
  };
  for (;;) {
    let holder: LockOwner | undefined;
    try {
      holder = tryTake(path, me);
    } catch (err) {
      throw lockError(path, err);
    }
    if (!holder && other) {
      const there = readOwner(other);
      if (there && alive(there)) {
        release();
        holder = there;
      }
    }
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
      release();
    },
  };
}
