/**
 * Durations as people type them on a command line: `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
 * Returns seconds, or NaN when the text is not a duration (the caller reports it with the flag's name).
 */
export function parseDurationSeconds(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return NaN;
  const value = Number(m[1]);
  switch (m[2]) {
    case 'ms':
      return value / 1000;
    case 'm':
      return value * 60;
    case 'h':
      return value * 3600;
    default:
      return value;
  }
}
