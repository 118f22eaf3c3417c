/**
 * One finding per limit: its value as it stands, and what it means in numbers for a run of N connections. Findings
 * that cap N carry maxN; assessCapacity takes the smallest.
 */
import type { ConnectionCosts } from './costs.ts';
import type { CapacityOptions, Finding, Severity } from './capacity.ts';
import { expectedMemory, LOOPBACK_ADDRESSES, maxNForMemory } from './capacity-math.ts';
import type { HostLimits } from './host-limits.ts';
import { fmtBytes, fmtInt } from './format.ts';

interface Context {
  n: number;
  costs: ConnectionCosts;
  perProcess: number;
  ports: number | undefined;
  destinations: number;
  options: CapacityOptions;
  sourceAddressesNeeded: number;
}

const ABSENT = 'absent';
const MIN_ACCEPT_QUEUE = 1024; // a 100 ms event-loop stall at ~4,500 connects/s (unbound loopback ramp) queues ~450
const MIN_NETDEV_BACKLOG = 4096; // loopback packets wait in this per-CPU queue; a broadcast or ramp burst overflows 1000

function cap(n: number, maxN: number): Severity {
  return n > maxN ? 'fail' : n > 0.8 * maxN ? 'warn' : 'ok';
}

function fileLimits(l: HostLimits, c: Context): Finding[] {
  const procs = Math.ceil(c.n / c.perProcess);
  const handlesFree = (l.fileMax ?? 0) - (l.fileHandlesInUse ?? 0);
  const fileMaxN = Math.floor(handlesFree / 2);
  return [
    {
      id: 'nofile',
      title: 'nofile (this process)',
      current: `soft ${fmtInt(l.nofile.soft)} / hard ${fmtInt(l.nofile.hard)}`,
      severity: procs > 1 ? 'info' : 'ok',
      meaning: `hard nofile ${fmtInt(l.nofile.hard)}: the lab cannot raise it, so a process holds at most ` +
        `${fmtInt(c.perProcess)} connections (${c.costs.fdReservePerProcess} descriptors kept for itself); ` +
        `${fmtInt(c.n)} connections need at least ${fmtInt(procs)} server processes and ${fmtInt(procs)} load-generator processes`,
    },
    {
      id: 'nr-open',
      key: 'fs.nr_open',
      title: 'fs.nr_open',
      current: l.nrOpen === undefined ? ABSENT : fmtInt(l.nrOpen),
      severity: 'info',
      meaning: `ceiling for any process's hard nofile (host-wide); it only matters where hard nofile can be raised`,
    },
    l.fileMax === undefined
      ? { id: 'file-max', key: 'fs.file-max', title: 'fs.file-max', current: ABSENT, severity: 'warn', meaning: 'cannot read the host-wide file handle limit' }
      : {
          id: 'file-max',
          key: 'fs.file-max',
          title: 'fs.file-max',
          current: `${fmtInt(l.fileMax)} (${fmtInt(l.fileHandlesInUse ?? 0)} in use)`,
          severity: cap(c.n, fileMaxN),
          meaning: `host-wide open files; each loopback connection is two (server and client): ` +
            `${fmtInt(handlesFree)} free handles hold ${fmtInt(fileMaxN)} connections`,
          maxN: fileMaxN,
        },
  ];
}

function ports(l: HostLimits, c: Context): Finding[] {
  const out: Finding[] = [];
  if (c.ports === undefined || !l.portRange) {
    out.push({ id: 'ports', key: 'net.ipv4.ip_local_port_range', title: 'ephemeral ports', current: ABSENT, severity: 'warn', meaning: 'cannot read ip_local_port_range' });
  } else {
    const src = c.options.sourceAddresses;
    const maxN = c.ports * c.destinations * (src ?? LOOPBACK_ADDRESSES);
    out.push({
      id: 'ports',
      key: 'net.ipv4.ip_local_port_range',
      title: 'ip_local_port_range',
      current: `${l.portRange.low} ${l.portRange.high}`,
      severity: src === undefined ? 'info' : cap(c.n, maxN),
      meaning: `ports per source address: ${fmtInt(c.ports)}; ${fmtInt(c.n)} connections to ${c.destinations} ` +
        `destination(s) need ${fmtInt(c.sourceAddressesNeeded)} source address(es)` +
        (src === undefined ? ' (127.0.0.x: loopback has plenty)' : `; ${src} available hold ${fmtInt(maxN)}`),
      ...(src === undefined ? {} : { maxN }),
    });
  }
  const listeners = l.listenersInPortRange;
  out.push({
    id: 'listeners-in-range',
    key: 'net.ipv4.ip_local_reserved_ports',
    title: 'listeners in port range',
    current: listeners.length === 0 ? 'none' : `${listeners.length}: ${listeners.slice(0, 8).join(',')}${listeners.length > 8 ? ',...' : ''}`,
    severity: listeners.length === 0 ? 'ok' : 'warn',
    meaning: listeners.length === 0
      ? `no listening port inside the ephemeral range (reserved: ${l.reservedPorts || 'none'})`
      : `a client socket can take one of these ports first and the listener's restart fails with EADDRINUSE; ` +
        `reserve them: net.ipv4.ip_local_reserved_ports = ${listeners.join(',')}`,
  });
  return out;
}

function queues(l: HostLimits, c: Context): Finding[] {
  const q = (id: string, key: string, v: number | undefined, min: number, what: string): Finding => ({
    id,
    key,
    title: key.split('.').pop()!,
    current: v === undefined ? ABSENT : fmtInt(v),
    severity: v === undefined ? 'info' : v < min ? 'warn' : 'ok',
    meaning: v === undefined ? `host-wide, not visible in this network namespace` : `${what}${v < min ? ` (below ${fmtInt(min)}: raise it)` : ''}`,
  });
  return [
    q('somaxconn', 'net.core.somaxconn', l.somaxconn, MIN_ACCEPT_QUEUE,
      `accept queue per listener = min(listen backlog, ${fmtInt(l.somaxconn ?? 0)}); a full queue drops SYNs and the client retries after 1 s`),
    q('syn-backlog', 'net.ipv4.tcp_max_syn_backlog', l.tcpMaxSynBacklog, MIN_ACCEPT_QUEUE,
      `half-open connections per listener during the ramp before SYN cookies`),
    q('netdev-backlog', 'net.core.netdev_max_backlog', l.netdevMaxBacklog, MIN_NETDEV_BACKLOG,
      `loopback packets queued per CPU; a burst beyond it (ramp SYNs, a broadcast to ${fmtInt(c.n)}) is dropped and retransmitted`),
  ];
}

function tcpMemory(l: HostLimits, c: Context): Finding[] {
  const out: Finding[] = [];
  if (!l.tcpMemPages) {
    out.push({ id: 'tcp-mem', key: 'net.ipv4.tcp_mem', title: 'tcp_mem', current: ABSENT, severity: 'info', meaning: 'host-wide, not visible in this network namespace' });
  } else {
    const [, pressure, max] = l.tcpMemPages;
    const busyMax = Math.floor(max / c.costs.tcpMemPagesPerBusyConnection);
    const perConn = c.n > 0 ? fmtBytes((max * l.pageSize) / c.n) : '-';
    out.push({
      id: 'tcp-mem',
      key: 'net.ipv4.tcp_mem',
      title: 'tcp_mem (pages)',
      current: `${l.tcpMemPages.join(' ')} (${fmtInt(l.tcpMemInUsePages ?? 0)} in use)`,
      severity: c.n > busyMax ? 'warn' : 'ok',
      meaning: `all TCP buffers: pressure at ${fmtBytes(pressure * l.pageSize)}, max ${fmtBytes(max * l.pageSize)} = ${perConn} per connection ` +
        `at ${fmtInt(c.n)}; one unread chunk costs a page, so a broadcast to more than ${fmtInt(busyMax)} slow readers hits ` +
        `"out of socket memory" (drops, retransmits)`,
    });
  }
  for (const [id, key, v] of [['tcp-rmem', 'net.ipv4.tcp_rmem', l.tcpRmem], ['tcp-wmem', 'net.ipv4.tcp_wmem', l.tcpWmem]] as const) {
    out.push({
      id,
      key,
      title: key.split('.').pop()!,
      current: v ? v.join(' ') : ABSENT,
      severity: 'info',
      meaning: v
        ? `per socket: min ${fmtBytes(v[0])} under pressure, starts at ${fmtBytes(v[1])}, grows to ${fmtBytes(v[2])}; ` +
          `${fmtInt(c.n)} sockets at the default could queue ${fmtBytes(v[1] * c.n)} (tcp_mem caps the total)`
        : 'cannot read',
    });
  }
  out.push(teardown('time-wait', 'net.ipv4.tcp_max_tw_buckets', l.tcpMaxTwBuckets, l.tcpTimeWait, c.n,
    'sockets in TIME_WAIT', 'destroyed at once ("time wait bucket table overflow" in the log: noisy, harmless)'));
  out.push(teardown('orphans', 'net.ipv4.tcp_max_orphans', l.tcpMaxOrphans, l.tcpOrphans, c.n,
    'orphaned sockets (closed, FIN not yet acknowledged)', 'reset at once ("too many orphaned sockets", "out of socket memory")'));
  out.push({
    id: 'tw-reuse',
    key: 'net.ipv4.tcp_tw_reuse',
    title: 'tcp_tw_reuse',
    current: l.tcpTwReuse === undefined ? ABSENT : String(l.tcpTwReuse),
    severity: 'info',
    meaning: `1: new outgoing connections reuse TIME_WAIT ports (2: loopback only); after a teardown of ${fmtInt(c.n)} the next ramp needs it`,
  });
  return out;
}

/** Limits a teardown of n connections meets: each closing socket passes through TIME_WAIT or orphan state. */
function teardown(id: string, key: string, max: number | undefined, now: number | undefined, n: number, what: string, beyond: string): Finding {
  const base = { id, key, title: key.split('.').pop()! };
  if (max === undefined) return { ...base, current: ABSENT, severity: 'info', meaning: 'host-wide, not visible in this network namespace' };
  const full = now !== undefined && now >= max;
  return {
    ...base,
    current: `${fmtInt(max)} (${fmtInt(now ?? 0)} now)`,
    severity: full || n > max ? 'warn' : 'ok',
    meaning: `${what}: a teardown of ${fmtInt(n)} can make up to ${fmtInt(n)}; beyond ${fmtInt(max)} they are ${beyond}` +
      (full ? '; the limit is reached right now' : ''),
  };
}

function conntrack(l: HostLimits, c: Context): Finding {
  const base = { id: 'conntrack', key: 'net.netfilter.nf_conntrack_max', title: 'nf_conntrack_max' };
  const ct = l.conntrack;
  if (!ct.present || ct.max === undefined) {
    return { ...base, current: ABSENT, severity: 'ok', meaning: 'nf_conntrack is not in this kernel: nothing tracks connections' };
  }
  const current = `${fmtInt(ct.max)} (${fmtInt(ct.count ?? 0)} entries)`;
  const maxN = ct.max - (ct.count ?? 0);
  if (ct.tracking || c.options.backend === 'docker') {
    const why = ct.tracking ? 'iptables rules loaded it: every connection, loopback too, takes an entry' : 'connections through the Docker bridge are tracked';
    const verdict = c.n > maxN ? `too small for ${fmtInt(c.n)} connections` : `room for ${fmtInt(maxN)} connections`;
    return { ...base, current, severity: cap(c.n, maxN), maxN, meaning: `${why}; conntrack table ${fmtInt(ct.max)}: ${verdict}` };
  }
  const docker = l.dockerRunning ? 'dockerd is running: once its iptables rules load' : 'once any iptables rule (Docker\'s) loads it';
  return {
    ...base,
    current,
    severity: c.n > ct.max ? 'warn' : 'ok',
    meaning: `loaded but not tracking here (0 entries); ${docker}, each connection takes an entry and ` +
      `${fmtInt(ct.max)} caps N (full table: "nf_conntrack: table full, dropping packet")`,
  };
}

function memory(l: HostLimits, c: Context): Finding[] {
  const e = expectedMemory(c.n, c.perProcess, c.costs);
  const avail = Math.min(l.memAvailableBytes ?? Infinity, l.cgroupMemoryLimitBytes ?? Infinity);
  const k = c.costs;
  const costs = `${fmtBytes(k.serverBytes)} server + ${fmtBytes(k.loadgenBytes)} loadgen per connection, ` +
    `${fmtBytes(k.kernelSocketBytes)} per socket, ${fmtBytes(k.processBaseBytes)} per process`;
  const procs = 2 * Math.ceil(c.n / c.perProcess);
  const out: Finding[] = [];
  if (!Number.isFinite(avail)) {
    out.push({ id: 'memory', title: 'memory', current: ABSENT, severity: 'warn', meaning: `cannot read MemAvailable; ${fmtInt(c.n)} need ${fmtBytes(e.total)} (${costs})` });
  } else {
    const usable = avail * k.memoryHeadroom;
    const maxN = maxNForMemory(usable, c.perProcess, k);
    const cg = l.cgroupMemoryLimitBytes !== undefined ? `, cgroup limit ${fmtBytes(l.cgroupMemoryLimitBytes)}` : '';
    out.push({
      id: 'memory',
      title: 'memory available',
      current: `${fmtBytes(l.memAvailableBytes ?? avail)}${cg}`,
      severity: cap(c.n, maxN),
      maxN,
      meaning: `${fmtInt(c.n)} need ${fmtBytes(e.total)}: server ${fmtBytes(e.server)}, loadgen ${fmtBytes(e.loadgen)}, ` +
        `kernel ${fmtBytes(e.kernel)} (${costs}); ${Math.round(k.memoryHeadroom * 100)}% of available holds ${fmtInt(maxN)}`,
    });
  }
  out.push({
    id: 'cores',
    title: 'cores',
    current: String(l.cores),
    severity: 'info',
    meaning: `${fmtInt(procs)} processes (server and load generators) share ${l.cores} core(s); ramp speed and delivery latency are CPU-bound`,
  });
  const cg = l.cgroup;
  out.push({
    id: 'cgroup',
    title: 'memory cgroup',
    current: [cg.v1Memory ? `v1${cg.v1MemoryWritable ? ' (writable)' : ''}` : '', cg.v2 ? `v2${cg.v2Memory ? ' +memory' : ''}` : ''].filter(Boolean).join(', ') || 'none',
    severity: cg.v1MemoryWritable || cg.v2Memory ? 'ok' : 'warn',
    meaning: cg.v1MemoryWritable || cg.v2Memory
      ? 'each component can get its own memory cgroup: working set and kernel socket memory measured apart'
      : 'no usable memory controller: per-component memory falls back to /proc RSS (no kernel socket memory)',
  });
  return out;
}

/** Every finding for a run of c.n connections, in the doctor's order. */
export function findingsFor(l: HostLimits, c: Context): Finding[] {
  return [...fileLimits(l, c), ...ports(l, c), ...queues(l, c), ...tcpMemory(l, c), conntrack(l, c), ...memory(l, c)];
}
