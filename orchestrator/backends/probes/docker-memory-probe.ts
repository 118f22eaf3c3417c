/**
 * Memory of one container through the Engine API's one-shot `stats`, computed exactly as `docker stats` shows it
 * (docker/cli calculateMemUsageUnixNoCache): usage minus total_inactive_file on cgroup v1, minus inactive_file on v2.
 * Kernel socket buffers apart: on v2 the `sock` line of memory.stat (charged inside usage); on v1 the group's
 * memory.kmem.tcp.usage_in_bytes read from the host's cgroup tree (charged outside usage, and counted only when the
 * container was created with a TCP kernel-memory limit, which the Docker backend sets).
 */
import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import type { MemoryProbe, MemoryReading } from '../backend.ts';

/** The fields of a stats answer this probe reads (cgroup v1 and v2 keys both optional). */
export interface StatsMemoryFields {
  memory_stats?: { usage?: number; stats?: Record<string, number | undefined> };
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
}

/** `docker stats`'s MEM USAGE: usage minus the inactive file cache (v1 key first, as the CLI does). */
export function dockerStatsMemory(stats: StatsMemoryFields): number {
  const usage = stats.memory_stats?.usage ?? 0;
  const s = stats.memory_stats?.stats ?? {};
  const v1 = s.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = s.inactive_file;
  if (v2 !== undefined && v2 < usage) return usage - v2;
  return usage;
}

/** Where the host keeps a container's cgroup v1 memory group (cgroupfs driver, default parent `docker`). */
export function cgroupV1MemoryDir(containerId: string, cgroupParent = '/docker'): string {
  return `/sys/fs/cgroup/memory${cgroupParent.startsWith('/') ? '' : '/'}${cgroupParent}/${containerId}`;
}

export class DockerMemoryProbe implements MemoryProbe {
  readonly container: Dockerode.Container;
  readonly cgroupV1Dir: string | undefined;
  constructor(container: Dockerode.Container, options: { cgroupV1Dir?: string } = {}) {
    this.container = container;
    this.cgroupV1Dir = options.cgroupV1Dir;
  }

  async read(): Promise<MemoryReading> {
    const stats = (await this.container.stats({ stream: false, 'one-shot': true })) as unknown as StatsMemoryFields;
    const s = stats.memory_stats?.stats ?? {};
    let kernelSocketBytes: number | undefined = s.sock;
    if (kernelSocketBytes === undefined && this.cgroupV1Dir) {
      try {
        kernelSocketBytes = Number(readFileSync(`${this.cgroupV1Dir}/memory.kmem.tcp.usage_in_bytes`, 'latin1'));
      } catch {
        kernelSocketBytes = undefined; // not v1, or the host's cgroup tree is not visible from here
      }
    }
    const cpuNs = stats.cpu_stats?.cpu_usage?.total_usage;
    return {
      workingSetBytes: dockerStatsMemory(stats),
      kernelSocketBytes,
      cpuSeconds: cpuNs === undefined ? undefined : cpuNs / 1e9,
      method: 'docker-stats',
    };
  }
}
