/**
 * run.json: everything about a run except its samples (config, plan, environment, outcome). Together with
 * samples.csv it is all the report needs, so `cli.ts report --regenerate DIR` rebuilds a report from a folder.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FloodConfig } from '../config/flood-config.ts';
import type { Plan } from '../plan/plan.ts';
import type { RunOutcome } from '../run/outcome.ts';
import type { Environment } from './environment.ts';
import type { TargetRecord } from '../targets/target.ts';
import { LabError, EXIT } from '../../shared/errors.ts';

export interface RunRecord {
  config: FloodConfig;
  plan: Plan;
  environment: Environment;
  outcome?: RunOutcome;
  /** The server under test (absent in runs from before targets: comet-lab's own). */
  target?: TargetRecord;
  /** How the target's memory is measured when the lab did not start it (url:), or that it is not. */
  memoryNote?: string;
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
}

export function readRunRecord(dir: string): RunRecord {
  try {
    return JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch (err) {
    throw new LabError('LAB_ERR_NO_RUN', `${dir} holds no readable run.json: ${(err as Error).message}`, { exitCode: EXIT.usage });
  }
}
