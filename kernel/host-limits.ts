/**
 * readHostLimits(): every setting and limit that bounds concurrent connections, read as they stand from /proc, /sys
 * and this process's rlimits. Pure reading: nothing is changed, no command is run. A value this kernel or namespace
 * does not offer is left undefined (tcp_mem, for one, is host-wide and absent inside a network namespace).
 */
import { accessSync, closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { currentNetns, readSysctl } from './sysctl.ts';

export interface HostLimits {
  /** RLIMIT_NOFILE of this process (Infinity for unlimited). Node raises soft to hard at start. */
  nofile: { soft: number; hard: number };
  fileMax?: number;
  /** Open file handles on the whole host right now (first field of fs.file-nr). */
  fileHandlesInUse?: number;
  nrOpen?: number;
  portRange?: { low: number; high: number };
  /** net.ipv4.ip_local_reserved_ports as the kernel prints it ("" when none). */
  reservedPorts?: string;
  somaxconn?: number;
  tcpMaxSynBacklog?: number;
  netdevMaxBacklog?: number;
  /** net.ipv4.tcp_mem: min, pressure, max, in pages. */
  tcpMemPages?: [number, number, number];
  tcpRmem?: [number, number, number];
  tcpWmem?: [number, number, number];
  tcpTwReuse?: number;
  tcpMaxTwBuckets?: number;
  /** Host-wide (absent inside a namespace). */
  tcpMaxOrphans?: number;
  /** From /proc/net/sockstat: sockets in TIME_WAIT and orphaned (closed, still sending) now. */
  tcpTimeWait?: number;
  tcpOrphans?: number;
  pageSize: number;
  /** From /proc/net/sockstat: TCP pages in use now and TCP sockets allocated. */
  tcpMemInUsePages?: number;
  tcpSocketsInUse?: number;
  /** present: the nf_conntrack sysctls exist; tracking: entries exist, so this namespace's connections are tracked. */
  conntrack: { present: boolean; tracking: boolean; max?: number; count?: number };
  /** A live dockerd: its iptables rules make the kernel track every connection, loopback included. */
  dockerRunning: boolean;
  memAvailableBytes?: number;
  memTotalBytes?: number;
  /** Memory limit of this process's own memory cgroup, when one is set. */
  cgroupMemoryLimitBytes?: number;
  cores: number;
  /** Ports of LISTEN sockets (TCP, v4 and v6) that fall inside ip_local_port_range, sorted, unique. */
  listenersInPortRange: number[];
  cgroup: { v1Memory: boolean; v1MemoryWritable: boolean; v2: boolean; v2Memory: boolean };
  /** Identity of this process's network namespace, e.g. "net:[4026531840]". */
  netns: string;
}

const UNLIMITED_CGROUP = 2 ** 60; // v1 reports "no limit" as a page-rounded 2^63-1

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function ints(value: string | undefined): number[] | undefined {
  if (value === undefined || value === '') return undefined;
  const parts = value.split(' ').map(Number);
  return parts.every(Number.isFinite) ? parts : undefined;
}

function int(key: string): number | undefined {
  return ints(readSysctl(key))?.[0];
}

function triple(key: string): [number, number, number] | undefined {
  const v = ints(readSysctl(key));
  return v && v.length === 3 ? [v[0], v[1], v[2]] : undefined;
}

/** Soft and hard "Max open files" from /proc/self/limits. */
export function parseNofile(limitsText: string): { soft: number; hard: number } {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').slice('Max open files'.length).trim().split(/\s+/);
  const num = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s ?? NaN));
  return { soft: num(soft), hard: num(hard) };
}

/** Ports of LISTEN sockets (state 0A) in /proc/net/tcp or tcp6 text. */
export function parseListeningPorts(procNetTcp: string): number[] {
  const ports: number[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const port = parseInt(f[1].split(':')[1] ?? '', 16);
    if (Number.isFinite(port)) ports.push(port);
  }
  return ports;
}

/**
 * LISTEN ports of a /proc/net/tcp{,6} file without reading it whole: the kernel prints the listening hash before the
 * established one, so reading stops at the first other state. At 100,000 connections the whole file is ~40 MB and
 * takes half a second; this reads a few KB.
 */
export function readListeningPorts(path: string): number[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  const ports: number[] = [];
  try {
    const buf = Buffer.alloc(64 * 1024);
    let rest = '';
    let header = true;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
      rest = n === 0 ? '' : lines.pop()!;
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        if (line.trim() === '') continue;
        const found = parseListeningPorts(`header\n${line}`);
        if (found.length === 0) return ports;
        ports.push(...found);
      }
      if (n === 0) return ports;
    }
  } finally {
    closeSync(fd);
  }
}

function meminfo(text: string | undefined, field: string): number | undefined {
  const m = text?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : undefined;
}

function dockerRunning(): boolean {
  const pid = read('/var/run/docker.pid')?.trim();
  if (!pid) return false;
  return read(`/proc/${pid}/comm`)?.trim() === 'dockerd';
}

function ownCgroupMemoryLimit(): number | undefined {
  const lines = read('/proc/self/cgroup')?.split('\n') ?? [];
  const v1 = lines.find((l) => /^\d+:memory:/.test(l))?.split(':')[2];
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const raw = v1 !== undefined
    ? read(`/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes`)
    : v2 !== undefined ? read(`/sys/fs/cgroup${v2}/memory.max`) : undefined;
  const limit = Number(raw?.trim());
  return Number.isFinite(limit) && limit > 0 && limit < UNLIMITED_CGROUP ? limit : undefined;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function pageSize(): number {
  // Node has no getpagesize(); the first mapping's KernelPageSize in smaps is the base page size.
  const m = read('/proc/self/smaps')?.match(/^KernelPageSize:\s+(\d+) kB/m);
  return m ? Number(m[1]) * 1024 : 4096;
}

/** Reads the host as it stands. Never throws; what cannot be read is left undefined. */
export function readHostLimits(): HostLimits {
  const portRangeValues = ints(readSysctl('net.ipv4.ip_local_port_range'));
  const portRange = portRangeValues?.length === 2 ? { low: portRangeValues[0], high: portRangeValues[1] } : undefined;
  const listening = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap(readListeningPorts);
  const inRange = portRange ? listening.filter((p) => p >= portRange.low && p <= portRange.high) : [];
  const sockstat = read('/proc/net/sockstat');
  const tcpLine = sockstat?.match(/^TCP: inuse (\d+) orphan (\d+) tw (\d+) alloc (\d+) mem (\d+)/m);
  const mem = read('/proc/meminfo');
  const conntrackMax = int('net.netfilter.nf_conntrack_max');
  const conntrackCount = int('net.netfilter.nf_conntrack_count');
  const v2Controllers = read('/sys/fs/cgroup/cgroup.controllers') ?? read('/sys/fs/cgroup/unified/cgroup.controllers');
  return {
    nofile: parseNofile(read('/proc/self/limits') ?? ''),
    fileMax: int('fs.file-max'),
    fileHandlesInUse: int('fs.file-nr'),
    nrOpen: int('fs.nr_open'),
    portRange,
    reservedPorts: readSysctl('net.ipv4.ip_local_reserved_ports'),
    somaxconn: int('net.core.somaxconn'),
    tcpMaxSynBacklog: int('net.ipv4.tcp_max_syn_backlog'),
    netdevMaxBacklog: int('net.core.netdev_max_backlog'),
    tcpMemPages: triple('net.ipv4.tcp_mem'),
    tcpRmem: triple('net.ipv4.tcp_rmem'),
    tcpWmem: triple('net.ipv4.tcp_wmem'),
    tcpTwReuse: int('net.ipv4.tcp_tw_reuse'),
    pageSize: pageSize(),
    tcpMaxTwBuckets: int('net.ipv4.tcp_max_tw_buckets'),
    tcpMaxOrphans: int('net.ipv4.tcp_max_orphans'),
    tcpTimeWait: tcpLine ? Number(tcpLine[3]) : undefined,
    tcpOrphans: tcpLine ? Number(tcpLine[2]) : undefined,
    tcpMemInUsePages: tcpLine ? Number(tcpLine[5]) : undefined,
    tcpSocketsInUse: tcpLine ? Number(tcpLine[4]) : undefined,
    conntrack: {
      present: conntrackMax !== undefined,
      tracking: (conntrackCount ?? 0) > 0,
      max: conntrackMax,
      count: conntrackCount,
    },
    dockerRunning: dockerRunning(),
    memAvailableBytes: meminfo(mem, 'MemAvailable'),
    memTotalBytes: meminfo(mem, 'MemTotal'),
    cgroupMemoryLimitBytes: ownCgroupMemoryLimit(),
    cores: availableParallelism(),
    listenersInPortRange: [...new Set(inRange)].sort((a, b) => a - b),
    cgroup: {
      v1Memory: read('/sys/fs/cgroup/memory/memory.limit_in_bytes') !== undefined,
      v1MemoryWritable: writable('/sys/fs/cgroup/memory'),
      v2: v2Controllers !== undefined,
      v2Memory: /\bmemory\b/.test(v2Controllers ?? ''),
    },
    netns: currentNetns(),
  };
}
