/**
 * CPU per chunk of a running Pair over a window: process CPU (utime + stime from /proc/<pid>/stat) of every process
 * of each side (roots and their descendants), divided by the chunks the client side received in the same window.
 * The host's softirq time (/proc/stat: loopback delivery runs there, for both sides and whatever else runs) is
 * reported apart, never added.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTree } from '../../orchestrator/backends/probes/process-tree.ts';
import { cpuSnapshot, type CpuSnapshot } from '../proc-stat.ts';
import type { ClientTotals, Pair } from './pair.ts';

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat and /proc/stat count in 1/100 s

interface ProcCpu {
  user: number;
  system: number;
}

function readCpu(pid: number): ProcCpu | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]), system: Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** One side's CPU over the window, seconds. */
export interface SideCpu {
  user: number;
  system: number;
  processes: number;
  /** µs of process CPU per chunk received. */
  usPerChunk: number;
}

export interface CpuWindow {
  seconds: number;
  chunks: number;
  /** Chunks the heartbeat asks for in the window: n streams x window / interval. */
  expectedChunks: number;
  held: number;
  server: SideCpu;
  client: SideCpu;
  /** Server + client process CPU per chunk, µs. */
  usPerChunk: number;
  /** Host-wide softirq + irq time per chunk, µs (apart: not in usPerChunk). */
  softirqUsPerChunk: number;
  /** Host busy share over the window (0..1, all cores), from /proc/stat. */
  hostBusy: number;
}

function sideSnapshot(roots: number[]): Map<number, ProcCpu> {
  const out = new Map<number, ProcCpu>();
  for (const root of roots) for (const p of processTree(root)) {
    const c = readCpu(p.pid);
    if (c) out.set(p.pid, c);
  }
  return out;
}

function sideDelta(a: Map<number, ProcCpu>, b: Map<number, ProcCpu>, chunks: number): SideCpu {
  let user = 0;
  let system = 0;
  for (const [pid, before] of a) {
    const after = b.get(pid);
    if (!after) continue;
    user += after.user - before.user;
    system += after.system - before.system;
  }
  user /= CLOCK_TICKS;
  system /= CLOCK_TICKS;
  return { user, system, processes: a.size, usPerChunk: chunks > 0 ? ((user + system) * 1e6) / chunks : NaN };
}

function softirqJiffies(s: CpuSnapshot): number {
  return (s.fields[5] ?? 0) + (s.fields[6] ?? 0);
}

function busyShare(a: CpuSnapshot, b: CpuSnapshot): number {
  const d = b.fields.map((v, i) => v - (a.fields[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0) || 1;
  return 1 - ((d[3] ?? 0) + (d[4] ?? 0)) / total;
}

/** Measures `seconds` of the pair as it runs. */
export async function measureCpuWindow(pair: Pair, seconds: number, signal?: AbortSignal): Promise<CpuWindow> {
  const t0: ClientTotals = await pair.totals();
  const host0 = cpuSnapshot();
  const s0 = sideSnapshot(pair.roots.server);
  const c0 = sideSnapshot(pair.roots.client);
  const started = performance.now();
  await sleep(seconds * 1000, undefined, { signal });
  const s1 = sideSnapshot(pair.roots.server);
  const c1 = sideSnapshot(pair.roots.client);
  const host1 = cpuSnapshot();
  const elapsed = (performance.now() - started) / 1000;
  const t1 = await pair.totals();
  const chunks = t1.chunks - t0.chunks;
  const server = sideDelta(s0, s1, chunks);
  const client = sideDelta(c0, c1, chunks);
  const softirq = (softirqJiffies(host1) - softirqJiffies(host0)) / CLOCK_TICKS;
  return {
    seconds: elapsed,
    chunks,
    expectedChunks: Math.round((t1.active * elapsed * 1000) / pair.spec.intervalMs),
    held: t1.active,
    server,
    client,
    usPerChunk: chunks > 0 ? ((server.user + server.system + client.user + client.system) * 1e6) / chunks : NaN,
    softirqUsPerChunk: chunks > 0 ? (softirq * 1e6) / chunks : NaN,
    hostBusy: busyShare(host0, host1),
  };
}
