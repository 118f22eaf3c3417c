/**
 * Host CPU from /proc/stat between two snapshots: how busy both cores were, and how much of it was softirq (the
 * kernel's loopback delivery shows there). A miss caused by CPU saturation is named from these figures.
 */
import { readFileSync } from 'node:fs';

export interface CpuSnapshot {
  atMs: number;
  /** Jiffies of the aggregate `cpu` line: user nice system idle iowait irq softirq steal. */
  fields: number[];
}

export interface CpuUse {
  seconds: number;
  /** Busy share of all cores, 0..1. */
  busy: number;
  user: number;
  system: number;
  softirq: number;
  cores: number;
}

export function cpuSnapshot(text = readFileSync('/proc/stat', 'latin1')): CpuSnapshot {
  const line = text.split('\n').find((l) => l.startsWith('cpu ')) ?? 'cpu 0 0 0 0 0 0 0 0';
  return { atMs: Date.now(), fields: line.trim().split(/\s+/).slice(1, 9).map(Number) };
}

export function cpuUse(a: CpuSnapshot, b: CpuSnapshot, cores: number): CpuUse {
  const d = b.fields.map((v, i) => v - (a.fields[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0) || 1;
  const idle = (d[3] ?? 0) + (d[4] ?? 0);
  return {
    seconds: (b.atMs - a.atMs) / 1000,
    busy: 1 - idle / total,
    user: ((d[0] ?? 0) + (d[1] ?? 0)) / total,
    system: (d[2] ?? 0) / total,
    softirq: ((d[5] ?? 0) + (d[6] ?? 0)) / total,
    cores,
  };
}
