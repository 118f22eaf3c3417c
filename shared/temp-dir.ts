/**
 * A temporary folder named by the pid of the process that owns it: `<tmpdir>/<prefix><pid>-XXXXXX`. A process
 * SIGKILLed before it removed its folder leaves it behind (measured: each `make test` left a load generator's
 * control-token folder and an nginx target's conf folder in /tmp, from the tests that kill them); whoever next makes
 * a folder with the same prefix removes those whose pid runs no process, as stale API sockets are swept
 * (server/supervisor/api-socket.ts).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './pid-alive.ts';

/** Makes this process's folder, after removing the folders of `prefix` whose owner is gone; returns its path. */
export function ownTempDir(prefix: string, parent = tmpdir()): string {
  const named = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-[A-Za-z0-9]{6}$`);
  let names: string[] = [];
  try {
    names = readdirSync(parent);
  } catch {
    // an unreadable parent: nothing to sweep, mkdtemp below says what is wrong
  }
  for (const name of names) {
    const m = named.exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
    } catch {
      // another user's, or removed meanwhile: not ours to insist on
    }
  }
  return mkdtempSync(join(parent, `${prefix}${process.pid}-`));
}
