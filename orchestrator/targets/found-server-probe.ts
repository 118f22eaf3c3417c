/**
 * Memory of a server the lab did not start (`url:` with `--server-pid`): its own memory cgroup when it has one to
 * itself (every process in the group belongs to its process tree: a container, a systemd service, a group the user
 * made), read like the lab's own groups, kernel memory included; otherwise RSS summed over its process tree, which
 * leaves out the kernel's memory for its sockets (about 3.4 KB per connection here), and the report says so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryProbe } from '../backends/backend.ts';
import { CgroupV1MemoryProbe } from '../backends/probes/memory-probe-cgroup-v1.ts';
import { CgroupV2MemoryProbe } from '../backends/probes/memory-probe-cgroup-v2.ts';
import { ProcMemoryProbe } from '../backends/probes/memory-probe-proc.ts';
import { processTree } from '../backends/probes/process-tree.ts';

export interface FoundProbe {
  probe: MemoryProbe;
  /** What the report says about it. */
  note: string;
}

/** The memory cgroup `pid` is in: [version, folder], or undefined for the root group or when unreadable. */
export function memoryCgroupOf(pid: number): { version: 'v1' | 'v2'; dir: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'latin1');
  } catch {
    return undefined;
  }
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(text)?.[1];
  if (v1 !== undefined && existsSync('/sys/fs/cgroup/memory/memory.usage_in_bytes')) {
    return v1 === '/' ? undefined : { version: 'v1', dir: join('/sys/fs/cgroup/memory', v1) };
  }
  const v2 = /^0::(.*)$/m.exec(text)?.[1];
  if (v2 !== undefined && v2 !== '/' && existsSync(join('/sys/fs/cgroup', v2, 'memory.current'))) return { version: 'v2', dir: join('/sys/fs/cgroup', v2) };
  return undefined;
}

function groupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function foundServerProbe(pid: number): FoundProbe {
  const group = memoryCgroupOf(pid);
  if (group) {
    const tree = new Set(processTree(pid).map((p) => p.pid));
    const members = groupPids(group.dir);
    if (members.length > 0 && members.every((p) => tree.has(p))) {
      return {
        probe: group.version === 'v1' ? new CgroupV1MemoryProbe(group.dir, () => pid) : new CgroupV2MemoryProbe(group.dir),
        note: `the memory cgroup of pid ${pid} (${group.dir}), which holds only its process tree: kernel memory included`,
      };
    }
  }
  return {
    probe: new ProcMemoryProbe(() => pid),
    note: `RSS summed over the process tree of pid ${pid} (it shares its cgroup with other processes): user space only, the kernel's memory for its sockets is not in it`,
  };
}
