/** Whether a process still runs, as the tests that check what the lab leaves behind ask it. */
import { readFileSync } from 'node:fs';

/**
 * Running: /proc has it and it is not a zombie (a zombie has exited; its parent, or init after a re-parenting,
 * just has not reaped it yet). `kill(pid, 0)` would count a zombie as alive.
 */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
