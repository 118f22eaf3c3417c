/**
 * The machine a run measured, recorded at the start of the run into run.json: kernel, the sysctls that bound
 * connections, file limits, Node, cores and RAM. Read through kernel/'s readHostLimits(), the doctor's reader.
 */
import { cpus, loadavg, release, totalmem } from 'node:os';
import { readHostLimits, type HostLimits } from '../../kernel/host-limits.ts';

export interface Environment {
  kernel: string;
  node: string;
  cores: number;
  cpuModel: string;
  memTotalBytes: number;
  memAvailableBytes?: number;
  nofile: { soft: number; hard: number };
  sysctls: Record<string, string>;
  cgroup: HostLimits['cgroup'];
  dockerRunning: boolean;
  /** 1, 5 and 15 minute load averages when the run started: above the core count, other work shared the CPUs. */
  loadAverage?: number[];
}

export function collectEnvironment(limits: HostLimits = readHostLimits()): Environment {
  const triple = (v?: [number, number, number]) => v?.join(' ') ?? 'absent';
  const one = (v?: number) => (v === undefined ? 'absent' : String(v));
  return {
    kernel: release(),
    node: process.version,
    cores: limits.cores,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memTotalBytes: limits.memTotalBytes ?? totalmem(),
    memAvailableBytes: limits.memAvailableBytes,
    nofile: limits.nofile,
    sysctls: {
      'fs.file-max': one(limits.fileMax),
      'fs.nr_open': one(limits.nrOpen),
      'net.ipv4.ip_local_port_range': limits.portRange ? `${limits.portRange.low} ${limits.portRange.high}` : 'absent',
      'net.core.somaxconn': one(limits.somaxconn),
      'net.ipv4.tcp_max_syn_backlog': one(limits.tcpMaxSynBacklog),
      'net.ipv4.tcp_mem': triple(limits.tcpMemPages),
      'net.ipv4.tcp_rmem': triple(limits.tcpRmem),
      'net.ipv4.tcp_wmem': triple(limits.tcpWmem),
      'net.netfilter.nf_conntrack_max': limits.conntrack.present ? one(limits.conntrack.max) : 'absent (conntrack not loaded)',
    },
    cgroup: limits.cgroup,
    dockerRunning: limits.dockerRunning,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}
