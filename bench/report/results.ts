/** The results of one bench run: the shape of `bench/results/<UTC time>-<host>.json` (the .md is made from it). */
import type { HostInfo } from '../host-info.ts';
import type { FloodFigures } from '../flood/flood-figures.ts';
import type { MemoryTargetResult } from '../memory/memory-stage.ts';
import type { BroadcastStageResult } from '../pairs/broadcast-stage.ts';
import type { CpuStageResult } from '../pairs/cpu-stage.ts';

export interface MemoryStageResult {
  n: number;
  intervalSeconds: number;
  method: string;
  results: MemoryTargetResult[];
  failures: Array<{ target: string; error: string }>;
}

export interface FloodFailure {
  n: number;
  error: string;
}

export interface TargetCheck {
  id: string;
  /** The target as the issue states it. */
  target: string;
  /** What was measured, in words and numbers. */
  measured: string;
  /** true met, false missed, null not measured in this run. */
  met: boolean | null;
  /** The connection count the figure was taken at, when it is not the target's own. */
  atN?: number;
  /** For a miss: how far off, in the target's unit or as a ratio. */
  by?: string;
  /** For a miss: what the profile shows as the cause. */
  cause?: string;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  host: HostInfo;
  stages: string[];
  config: Record<string, unknown>;
  memory?: MemoryStageResult;
  /** CPU per chunk, comet-lab against the C pair (bench/pairs/cpu-stage.ts). */
  cpu?: CpuStageResult;
  floods: FloodFigures[];
  /** One broadcast to N, comet-lab against the C pair (bench/pairs/broadcast-stage.ts). */
  broadcast?: BroadcastStageResult;
  floodFailures: FloodFailure[];
  targets: TargetCheck[];
  interrupted: boolean;
}
