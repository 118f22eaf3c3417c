/**
 * The supervisor's internal API socket (the http and express engines proxy API requests to it):
 * `<tmpdir>/comet-lab-api-<supervisor pid>-<port>.sock`, readable and writable by its owner only. A server removes
 * its own at exit; one that was SIGKILLed cannot, so every server start removes those whose supervisor is gone.
 */
import { chmodSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../shared/pid-alive.ts';

const NAME = /^comet-lab-api-(\d+)-(\d+)\.sock$/;

export function apiSocketPath(port: number, dir = tmpdir()): string {
  return join(dir, `comet-lab-api-${process.pid}-${port}.sock`);
}

/** Removes API sockets left by servers that are gone (their pid runs no process); returns their paths. */
export function removeStaleApiSockets(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = NAME.exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      if (!lstatSync(path).isSocket()) continue;
      rmSync(path, { force: true });
      removed.push(path);
    } catch {
      // another server removed it first, or it is not ours to remove
    }
  }
  return removed;
}

/** Only the owner may connect (connecting to a Unix socket needs write permission on it). */
export function restrictToOwner(path: string): void {
  chmodSync(path, 0o600);
}
