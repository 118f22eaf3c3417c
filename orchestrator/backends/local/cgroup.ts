/**
 * Memory cgroups for the local backend: one per component under `<root>/comet-lab/<run>/<component>`, so each
 * component's memory is read the way `docker stats` reads a container's. cgroup v1 (this lab's hosts) and v2 are
 * both handled; where neither is writable the backend falls back to /proc (memory-probe-proc.ts).
 *
 * A child joins its cgroup before it execs (see `wrapCommand`), so every socket and page it ever allocates is
 * charged there. Removal kills any process still inside (only lab children can be there), waits until the cgroup
 * is empty and rmdirs it: rmdir of a cgroup with tasks fails with EBUSY.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type CgroupVersion = 'v1' | 'v2';

export interface CgroupLayout {
  version: CgroupVersion;
  /** The lab's folder: /sys/fs/cgroup/memory/comet-lab (v1) or /sys/fs/cgroup/comet-lab (v2). */
  labRoot: string;
}

const V1_MEMORY = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

/** Which cgroup memory controller this process can create groups in, or undefined (then /proc is used). */
export function detectCgroup(): CgroupLayout | undefined {
  const tryRoot = (version: CgroupVersion, base: string): CgroupLayout | undefined => {
    const labRoot = join(base, 'comet-lab');
    try {
      mkdirSync(labRoot, { recursive: true });
      if (version === 'v2') {
        // Children of comet-lab/ only get memory files when the controller is delegated down to them.
        writeFileSync(join(base, 'cgroup.subtree_control'), '+memory');
        writeFileSync(join(labRoot, 'cgroup.subtree_control'), '+memory');
      }
      return { version, labRoot };
    } catch {
      return undefined;
    }
  };
  if (existsSync(join(V1_MEMORY, 'memory.usage_in_bytes'))) return tryRoot('v1', V1_MEMORY);
  if (existsSync(join(V2_ROOT, 'cgroup.controllers')) && readFileSync(join(V2_ROOT, 'cgroup.controllers'), 'latin1').includes('memory')) {
    return tryRoot('v2', V2_ROOT);
  }
  return undefined;
}

export class ComponentCgroup {
  readonly path: string;
  readonly version: CgroupVersion;
  constructor(layout: CgroupLayout, run: string, component: string) {
    this.version = layout.version;
    const runDir = join(layout.labRoot, run);
    mkdirSync(runDir, { recursive: true });
    if (layout.version === 'v2') writeFileSync(join(runDir, 'cgroup.subtree_control'), '+memory');
    this.path = join(runDir, component);
    mkdirSync(this.path, { recursive: true });
    if (layout.version === 'v1') {
      // Turns on v1 TCP buffer accounting for this group (it is off until a limit is written); the limit is huge.
      try {
        writeFileSync(join(this.path, 'memory.kmem.tcp.limit_in_bytes'), String(2 ** 50));
      } catch {
        // kernels without kmem.tcp: the probe reports no kernel socket figure
      }
    }
  }

  /** `sh -c` prefix that moves the shell into this cgroup, raises its file limit to `nofile`, then execs the command. */
  wrapCommand(command: string[], nofile: number): string[] {
    const script = `echo $$ > '${join(this.path, 'cgroup.procs')}' && ulimit -n ${nofile} && exec "$@"`;
    return ['/bin/sh', '-c', script, 'comet-lab', ...command];
  }

  pids(): number[] {
    try {
      return readFileSync(join(this.path, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /**
   * Kills what is left inside, waits (up to `timeoutMs`) for it to be empty, removes it. Safe to call twice.
   * The wait is long because a killed process holding ~20,000 sockets leaves its cgroup only when the kernel has
   * closed them all: at 1,000,000 connections on 2 busy cores that took more than 5 s (EBUSY, 16 groups left).
   */
  async remove(timeoutMs = 60_000): Promise<void> {
    if (!existsSync(this.path)) return;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        rmdirSync(this.path);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (Date.now() > deadline) throw err;
      }
      await sleep(50);
    }
  }
}

/**
 * Removes the run's folder once its component groups are gone (throws if one is left), then the lab's folder
 * unless another run still uses it.
 */
export function removeRunDir(layout: CgroupLayout, run: string): void {
  try {
    rmdirSync(join(layout.labRoot, run));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    rmdirSync(layout.labRoot);
  } catch {
    // another run's groups are inside: theirs to remove
  }
}

/** Run folders the orchestrator names `<its pid>-<time>-<random>` (flood.ts). */
const RUN_NAME = /^(\d+)-[a-z0-9]+-[0-9a-f]{6}$/;

/** Any live process with that pid counts (whatever program called flood()); a reused pid only delays the reaping. */
function orchestratorAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Removes the groups of runs whose orchestrator is gone (killed with SIGKILL, so it could not tear down): kills
 * what still runs in them and rmdirs them. Only folders named like the orchestrator's runs are touched. Returns the
 * run folders removed.
 */
export async function reapOrphanRuns(layout: CgroupLayout): Promise<string[]> {
  const reaped: string[] = [];
  let names: string[];
  try {
    names = readdirSync(layout.labRoot, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return reaped;
  }
  for (const run of names) {
    const m = RUN_NAME.exec(run);
    if (!m || orchestratorAlive(Number(m[1]))) continue;
    const dir = join(layout.labRoot, run);
    for (const component of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      await new ComponentCgroup(layout, run, component.name).remove();
    }
    try {
      rmdirSync(dir);
      reaped.push(run);
    } catch {
      // raced with another reaper
    }
  }
  return reaped;
}
