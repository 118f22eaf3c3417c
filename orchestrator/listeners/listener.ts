/**
 * Outputs of a run are listeners: a factory gets the run (an EventEmitter, see run/flood-run.ts for its events)
 * before it starts and returns something to close once the run is done. The flood command builds its listener
 * list from flags (progress bar, --json, samples.csv, --live-port) plus whatever a caller of `flood()` adds.
 */
import type { Writable } from 'node:stream';
import type { FloodConfig } from '../config/flood-config.ts';
import type { Plan } from '../plan/plan.ts';
import type { FloodRun } from '../run/flood-run.ts';

export interface ListenerContext {
  plan: Plan;
  config: FloodConfig;
  /** The run's report folder (samples.csv goes there first); undefined with --no-report. */
  reportDir: string | undefined;
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
}

export interface RunListener {
  /** Called after `done` (and after the report is written); flushes and releases what the listener holds. */
  close(): void | Promise<void>;
}

export type RunListenerFactory = (run: FloodRun, ctx: ListenerContext) => RunListener | Promise<RunListener>;
