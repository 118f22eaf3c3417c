/**
 * Memory of a cgroup v1 group, as `docker stats` computes it on v1: usage_in_bytes minus total_inactive_file.
 * Kernel socket buffers come from memory.kmem.tcp.usage_in_bytes, which only counts once TCP accounting is on for
 * the group (cgroup.ts writes a limit to turn it on). CPU comes from the component's process tree in /proc.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryProbe, MemoryReading } from '../backend.ts';
import { parseMemoryStat } from './memory-stat.ts';
import { PROBE_SCAN_REUSE_MS, treeUsage } from './process-tree.ts';

export class CgroupV1MemoryProbe implements MemoryProbe {
  readonly dir: string;
  readonly rootPid: () => number | undefined;
  constructor(dir: string, rootPid: () => number | undefined) {
    this.dir = dir;
    this.rootPid = rootPid;
  }

  async read(): Promise<MemoryReading> {
    const usage = Number(readFileSync(join(this.dir, 'memory.usage_in_bytes'), 'latin1'));
    const stat = parseMemoryStat(readFileSync(join(this.dir, 'memory.stat'), 'latin1'));
    const inactive = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
    let kernelSocketBytes: number | undefined;
    try {
      kernelSocketBytes = Number(readFileSync(join(this.dir, 'memory.kmem.tcp.usage_in_bytes'), 'latin1'));
    } catch {
      kernelSocketBytes = undefined;
    }
    let kernelBytes: number | undefined;
    try {
      kernelBytes = Number(readFileSync(join(this.dir, 'memory.kmem.usage_in_bytes'), 'latin1'));
    } catch {
      kernelBytes = undefined; // kernels built without v1 kmem files
    }
    const pid = this.rootPid();
    return {
      workingSetBytes: Math.max(0, usage - inactive),
      kernelSocketBytes,
      kernelBytes,
      cpuSeconds: pid === undefined ? undefined : treeUsage(pid, PROBE_SCAN_REUSE_MS).cpuSeconds,
      method: 'cgroup-v1',
    };
  }
}
