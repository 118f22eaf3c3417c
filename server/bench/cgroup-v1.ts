/**
 * A memory cgroup (v1) for one benchmarked server: whole memory = usage - inactive_file (what `docker stats`
 * calls the working set), plus the kernel's TCP buffer memory charged to the group (memory.kmem.tcp), which v1
 * only accounts once a tcp limit has been written.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CGROUP_V1_MEMORY = '/sys/fs/cgroup/memory';

export interface CgroupReading {
  workingSetBytes: number;
  tcpBytes: number; // -1 when the kernel does not account it
}

export class MemoryCgroup {
  readonly path: string;

  constructor(name: string) {
    this.path = join(CGROUP_V1_MEMORY, name);
    mkdirSync(this.path);
    const tcpLimit = join(this.path, 'memory.kmem.tcp.limit_in_bytes');
    try {
      if (existsSync(tcpLimit)) writeFileSync(tcpLimit, '-1'); // turns on tcp accounting for this group
    } catch {
      // accounting stays off: tcpBytes reads 0 and the sockstat cross-check still shows the kernel side
    }
  }

  static available(): boolean {
    return existsSync(join(CGROUP_V1_MEMORY, 'cgroup.procs'));
  }

  /** A shell prefix that moves itself into the group, then execs the command (descendants inherit the group). */
  wrap(command: string[]): string[] {
    const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    return ['/bin/sh', '-c', `echo $$ > ${join(this.path, 'cgroup.procs')} && exec ${quoted}`];
  }

  read(): CgroupReading {
    const usage = Number(readFileSync(join(this.path, 'memory.usage_in_bytes'), 'utf8'));
    const stat = readFileSync(join(this.path, 'memory.stat'), 'utf8');
    const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? /^inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
    let tcpBytes = -1;
    try {
      tcpBytes = Number(readFileSync(join(this.path, 'memory.kmem.tcp.usage_in_bytes'), 'utf8'));
    } catch {
      // not accounted by this kernel
    }
    return { workingSetBytes: usage - inactive, tcpBytes };
  }

  pids(): number[] {
    return readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  }

  /** Removes the group once its processes are gone (retries while they exit). */
  async remove(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        rmdirSync(this.path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        if (Date.now() > end) throw err;
        for (const pid of this.pids()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** Kernel TCP memory from /proc/net/sockstat (pages, all sockets of the host: both ends of loopback). */
export function sockstatTcpPages(): number {
  const m = /^TCP: .* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Resident memory of a process, bytes (0 if gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
