/**
 * The one place that turns how a flood ended into its exit code (shared/errors.ts EXIT), so a CI job can tell a
 * broken run from a clean run that missed what it was asked for:
 *   130 interrupted > 1 incomplete (a component died, a phase failed) > 5 a --threshold failed
 *   > 4 N not held (TARGET MISSED) > 6 degraded (reached its end, but a server worker died, the run stalled, ...) > 0.
 */
import { EXIT, type ExitCode } from '../../shared/errors.ts';
import type { RunOutcome } from './outcome.ts';

export interface EndState {
  outcome: Pick<RunOutcome, 'interrupted' | 'incomplete' | 'degraded'>;
  /** Most connections held at once (the load generators' count) against N. */
  reached: number;
  n: number;
  thresholdsFailed?: number;
}

export function exitCodeFor(end: EndState): ExitCode {
  if (end.outcome.interrupted) return EXIT.interrupted;
  if (end.outcome.incomplete) return EXIT.failure;
  if (end.thresholdsFailed) return EXIT.thresholdFailed;
  if (end.reached < end.n) return EXIT.targetMissed;
  if (end.outcome.degraded?.length) return EXIT.degraded;
  return EXIT.ok;
}
