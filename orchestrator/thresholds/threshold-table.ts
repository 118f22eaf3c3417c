/** The thresholds' verdicts as a table: on the terminal at the end of a run, in report.md and in the compare report. */
import type { ThresholdResult } from './threshold.ts';

const show = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3));

/** Markdown (also readable as plain text): one row per threshold, then the verdict. */
export function formatThresholdTable(results: ThresholdResult[]): string {
  const failed = results.filter((r) => !r.pass).length;
  return [
    '| threshold | measured | verdict |',
    '| --- | --- | --- |',
    ...results.map((r) => `| \`${r.text}\` | ${r.actual === undefined ? r.note ?? 'n/a' : show(r.actual)} | ${r.pass ? 'pass' : '**FAIL**'} |`),
    '',
    failed === 0 ? `All ${results.length} threshold(s) passed.` : `${failed} of ${results.length} threshold(s) FAILED (exit code 5).`,
  ].join('\n');
}
