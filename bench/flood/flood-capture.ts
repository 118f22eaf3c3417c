/**
 * A listener the bench hands to the orchestrator's flood(): it keeps every sample, and at each phase change takes a
 * /proc/stat snapshot and reads each component's cgroup (kernel vs user memory, which the orchestrator's probes do
 * not split). Phase events are emitted synchronously before the next phase starts, so the reading at `teardown`
 * is the end of the last phase with every component still running.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunListenerFactory } from '../../orchestrator/listeners/listener.ts';
import type { RunSample } from '../../orchestrator/run/sample.ts';
import { readCgroupMemory, type CgroupMemory } from '../memory/cgroup-memory.ts';
import { cpuSnapshot, type CpuSnapshot } from '../proc-stat.ts';

const CG_ROOT = '/sys/fs/cgroup/memory/comet-lab';

export interface PhaseMark {
  name: string;
  atMs: number;
  cpu: CpuSnapshot;
  /** Per component: its cgroup reading at this moment (absent where no v1 group exists). */
  cgroups: Record<string, CgroupMemory>;
}

export interface FloodCapture {
  samples: RunSample[];
  phases: PhaseMark[];
  runId?: string;
  listener: RunListenerFactory;
}

function readGroups(runId: string | undefined): Record<string, CgroupMemory> {
  const out: Record<string, CgroupMemory> = {};
  if (!runId) return out;
  const dir = join(CG_ROOT, runId);
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    try {
      out[name] = readCgroupMemory(join(dir, name));
    } catch {
      // removed between the listing and the read
    }
  }
  return out;
}

export function floodCapture(onSample?: (s: RunSample) => void, onPhase?: (name: string) => void): FloodCapture {
  const capture: FloodCapture = {
    samples: [],
    phases: [],
    listener: (run) => {
      const sample = (s: RunSample) => {
        capture.samples.push(s);
        onSample?.(s);
      };
      const phase = (p: { name: string; atMs: number }) => {
        capture.phases.push({ name: p.name, atMs: p.atMs, cpu: cpuSnapshot(), cgroups: readGroups(capture.runId) });
        onPhase?.(p.name);
      };
      run.on('sample', sample);
      run.on('phase', phase);
      return {
        close() {
          run.off('sample', sample);
          run.off('phase', phase);
        },
      };
    },
  };
  return capture;
}
