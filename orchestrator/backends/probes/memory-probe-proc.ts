/**
 * The fallback where no cgroup can be made: RSS summed over the component's process tree. The kernel's socket
 * memory cannot be split per process, so this probe reports none; the sampler records the host-wide figure from
 * /proc/net/sockstat next to it, and the report says so.
 */
import type { MemoryProbe, MemoryReading } from '../backend.ts';
import { PROBE_SCAN_REUSE_MS, treeUsage } from './process-tree.ts';

export class ProcMemoryProbe implements MemoryProbe {
  readonly rootPid: () => number | undefined;
  constructor(rootPid: () => number | undefined) {
    this.rootPid = rootPid;
  }

  async read(): Promise<MemoryReading> {
    const pid = this.rootPid();
    const usage = pid === undefined ? { rssBytes: 0, cpuSeconds: 0 } : treeUsage(pid, PROBE_SCAN_REUSE_MS);
    return { workingSetBytes: usage.rssBytes, cpuSeconds: usage.cpuSeconds, method: 'proc-rss' };
  }
}
