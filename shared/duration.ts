/**
 * Durations as people type them on a command line: `250ms`, `10s`, `5m`, `1h`, or a bare number in the unit the
 * flag documents (the server's intervals are bare milliseconds, the orchestrator's holds bare seconds).
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or NaN when the text is not a duration (the caller reports it with the flag's name). */
export function parseDurationMs(text: string, bareUnit: 'ms' | 's'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNIT_MS[m[2] ?? bareUnit]!;
}
