/**
 * Durations as people type them on a command line: `250ms`, `10s`, `5m`, `1h`, or a bare number of SECONDS.
 * One convention for every CLI and environment variable of the lab (server, load generator, orchestrator, bench):
 * before, the server read `--interval 10` as 10 ms while `flood --interval 10` meant 10 s.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or NaN when the text is not a duration (the caller reports it with the flag's name). */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
}

/** The hint every CLI gives with a bad duration. */
export const DURATION_HINT = 'a duration: 250ms, 10s, 5m, 1h, or a bare number of seconds';
