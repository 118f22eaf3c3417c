/**
 * Durations as people type them on a command line: `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
 * Returns seconds, or NaN when the text is not a duration (the caller reports it with the flag's name).
 */
import { parseDurationMs } from '../../shared/duration.ts';

export function parseDurationSeconds(text: string): number {
  return parseDurationMs(text) / 1000;
}
