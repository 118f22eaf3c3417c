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

/**
 * How old a scan of /proc the memory probes accept: a sample reads every component's probe at once, and each probe
 * asked for its own tree. With 22 components and ~300 processes that was 22 scans (6,600 file reads) per sample;
 * sharing one is ~300.
 */
export const PROBE_SCAN_REUSE_MS = 250;
let lastScan: { atMs: number; stats: ProcStat[] } | undefined;

/** Every process's stat; a scan younger than `maxAgeMs` is reused. */
function allStats(maxAgeMs: number): ProcStat[] {
  const now = performance.now();
  if (lastScan && now - lastScan.atMs < maxAgeMs) return lastScan.stats;
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  lastScan = { atMs: now, stats: out };
  return out;
}

/** `root` and every live descendant of it (from a scan of /proc at most `maxAgeMs` old). */
export function processTree(root: number, maxAgeMs = 0): ProcStat[] {
  const stats = allStats(maxAgeMs);
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
export function treeUsage(root: number, maxAgeMs = 0): { rssBytes: number; cpuSeconds: number; pids: number[] } {
  const tree = processTree(root, maxAgeMs);
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
