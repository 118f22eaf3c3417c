/**
 * A process and its descendants, read from /proc: the pids, their summed RSS and CPU time. The /proc memory probe
 * and the CPU figures of every local component use it (cgroup v1 keeps CPU in another hierarchy the lab leaves alone).
 */
import { readFileSync, readdirSync } from 'node:fs';

const PAGE_SIZE = 4096;
const CLOCK_TICKS = 100; // USER_HZ on Linux, fixed ABI value for /proc/<pid>/stat

interface ProcStat {
  pid: number;
  ppid: number;
  cpuTicks: number; // utime + stime
  rssPages: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]), rssPages: Number(f[21]) };
  } catch {
    return undefined; // exited between listing and reading
  }
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** `root` and every live descendant of it. */
export function processTree(root: number): ProcStat[] {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const self = stats.find((s) => s.pid === root);
  if (!self) return [];
  const out: ProcStat[] = [];
  const queue = [self];
  while (queue.length > 0) {
    const s = queue.pop()!;
    out.push(s);
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/** RSS of the tree in bytes and its CPU time (user + system) in seconds. */
export function treeUsage(root: number): { rssBytes: number; cpuSeconds: number; pids: number[] } {
  const tree = processTree(root);
  return {
    rssBytes: tree.reduce((a, s) => a + s.rssPages * PAGE_SIZE, 0),
    cpuSeconds: tree.reduce((a, s) => a + s.cpuTicks, 0) / CLOCK_TICKS,
    pids: tree.map((s) => s.pid),
  };
}

/** CPU seconds summed over the given pids (those that have exited count nothing). */
export function cpuSecondsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / CLOCK_TICKS;
}
