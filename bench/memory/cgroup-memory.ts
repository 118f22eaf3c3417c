/**
 * One reading of a cgroup v1 memory group, split the way the results need it: the working set as `docker stats`
 * counts it (usage minus inactive file cache), the kernel's share of it (memory.kmem.usage_in_bytes: socket and
 * inode slabs, epoll items, files, page tables), and the TCP buffers that v1 counts apart from usage
 * (memory.kmem.tcp.usage_in_bytes, on once a tcp limit is written, which ComponentCgroup does).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMemoryStat } from '../../orchestrator/backends/probes/memory-stat.ts';

export interface CgroupMemory {
  usage: number;
  inactiveFile: number;
  /** Kernel memory charged to the group; on v1 it is included in usage. */
  kmem: number;
  /** TCP socket buffers; on v1 NOT included in usage. */
  tcp: number;
  /** usage - inactive_file + tcp: everything the group costs, user space and kernel. */
  total: number;
}

export function readCgroupMemory(dir: string): CgroupMemory {
  const num = (f: string): number => {
    try {
      return Number(readFileSync(join(dir, f), 'latin1'));
    } catch {
      return 0;
    }
  };
  const stat = parseMemoryStat(readFileSync(join(dir, 'memory.stat'), 'latin1'));
  const usage = num('memory.usage_in_bytes');
  const inactiveFile = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
  const kmem = num('memory.kmem.usage_in_bytes');
  const tcp = num('memory.kmem.tcp.usage_in_bytes');
  return { usage, inactiveFile, kmem, tcp, total: usage - inactiveFile + tcp };
}

/** Growth between two readings per connection, split into user space and kernel. */
export function perConnection(before: CgroupMemory, after: CgroupMemory, connections: number): { total: number; user: number; kernel: number } {
  if (connections <= 0) return { total: NaN, user: NaN, kernel: NaN };
  const kernel = after.kmem - before.kmem + (after.tcp - before.tcp);
  const total = after.total - before.total;
  return { total: total / connections, kernel: kernel / connections, user: (total - kernel) / connections };
}
