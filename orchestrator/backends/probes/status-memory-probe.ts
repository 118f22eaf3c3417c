/**
 * Memory a component reports about itself: the `cgroupMemory` of the server's `GET /stats` or a load generator's
 * `GET /status` (shared/own-cgroup-memory.ts: its own cgroup read from inside, the `docker stats` formula). This is
 * how the swarm backend measures components on other hosts without an agent there. Where another reading of the same
 * container can be had (the node engine's stats), it is read at the same time and returned as `crossCheck`.
 */
import type { LoadgenStatus, ServerStats } from '../../../shared/contracts.ts';
import { LabError } from '../../../shared/errors.ts';
import type { ComponentRole, MemoryProbe, MemoryReading } from '../backend.ts';

export class StatusMemoryProbe implements MemoryProbe {
  readonly url: string;
  readonly role: ComponentRole;
  readonly crossCheck: MemoryProbe | undefined;
  constructor(url: string, role: ComponentRole, crossCheck?: MemoryProbe) {
    this.url = url;
    this.role = role;
    this.crossCheck = crossCheck;
  }

  async read(): Promise<MemoryReading> {
    const path = this.role === 'server' ? '/stats' : '/status';
    const [own, other] = await Promise.all([
      fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(5000) }).then(async (r) => ((await r.json()) as ServerStats | LoadgenStatus).cgroupMemory),
      this.crossCheck?.read().catch(() => undefined),
    ]);
    if (!own) throw new LabError('LAB_ERR_NO_MEMORY', `${this.url}${path} reports no cgroupMemory (no memory cgroup readable inside)`);
    return {
      workingSetBytes: own.workingSetBytes,
      kernelBytes: own.kernelBytes,
      kernelSocketBytes: own.kernelSocketBytes,
      cpuSeconds: own.cpuSeconds,
      method: own.version === 'v1' ? 'cgroup-v1-inside' : 'cgroup-v2-inside',
      ...(other ? { crossCheck: { workingSetBytes: other.workingSetBytes, method: other.method } } : {}),
    };
  }
}
