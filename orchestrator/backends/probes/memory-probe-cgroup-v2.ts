/**
 * Memory of a cgroup v2 group, as `docker stats` computes it on v2: memory.current minus inactive_file. v2 charges
 * socket buffers to the group and shows them as `sock` in memory.stat; CPU is the group's own cpu.stat usage_usec.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryProbe, MemoryReading } from '../backend.ts';
import { parseMemoryStat } from './memory-stat.ts';

export class CgroupV2MemoryProbe implements MemoryProbe {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async read(): Promise<MemoryReading> {
    const current = Number(readFileSync(join(this.dir, 'memory.current'), 'latin1'));
    const stat = parseMemoryStat(readFileSync(join(this.dir, 'memory.stat'), 'latin1'));
    let cpuSeconds: number | undefined;
    try {
      cpuSeconds = parseMemoryStat(readFileSync(join(this.dir, 'cpu.stat'), 'latin1')).get('usage_usec')! / 1e6;
    } catch {
      cpuSeconds = undefined; // cpu controller not delegated
    }
    return {
      workingSetBytes: Math.max(0, current - (stat.get('inactive_file') ?? 0)),
      kernelSocketBytes: stat.get('sock'),
      kernelBytes: stat.get('kernel') ?? ((stat.get('slab') ?? 0) + (stat.get('kernel_stack') ?? 0) || undefined),
      cpuSeconds,
      method: 'cgroup-v2',
    };
  }
}
