/** The machine a results file was measured on, and how busy it was when the bench started (runs are shared). */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { readSockstat } from '../orchestrator/run/sockstat.ts';

export interface HostInfo {
  hostname: string;
  cores: number;
  cpuModel: string;
  ramBytes: number;
  kernel: string;
  node: string;
  /** TCP sockets already open on the host and the 1-minute load average when the bench began. */
  atStart: { tcpInUse: number; loadAverage1m: number };
  fileLimit: string;
  ipLocalPortRange: string;
}

const read = (p: string) => {
  try {
    return readFileSync(p, 'latin1').trim();
  } catch {
    return 'n/a';
  }
};

export function hostInfo(): HostInfo {
  let tcpInUse = 0;
  try {
    tcpInUse = readSockstat().inuse;
  } catch {
    // no /proc/net/sockstat
  }
  const limits = read('/proc/self/limits').split('\n').find((l) => l.startsWith('Max open files'));
  return {
    hostname: hostname(),
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    ramBytes: totalmem(),
    kernel: release(),
    node: process.version,
    atStart: { tcpInUse, loadAverage1m: loadavg()[0] ?? 0 },
    fileLimit: limits ? limits.replace(/^Max open files\s+/, '').replace(/\s+/g, ' ').trim() : 'n/a',
    ipLocalPortRange: read('/proc/sys/net/ipv4/ip_local_port_range').replace(/\s+/g, '-'),
  };
}
