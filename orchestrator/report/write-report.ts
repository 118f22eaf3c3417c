/**
 * Computes a report folder's report.md, report.html and summary.json from its samples.csv and run.json, and points
 * `<reports>/latest` at it. Used at the end of a flood and by `cli.ts report --regenerate DIR`.
 */
import { lstatSync, mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renderReportHtml } from './report-html.ts';
import { renderReportMd } from './report-md.ts';
import { readRunRecord, type RunRecord } from './run-record.ts';
import { readSamplesTable, type SamplesTable } from './samples-table.ts';
import { summarize, type Summary } from './summarize.ts';
import { applyThresholdVerdict, assertSummary, summaryDocument } from './summary-document.ts';
import { recordThresholds } from './target-summary.ts';
import { evaluateThresholds } from '../thresholds/threshold.ts';
import type { SummaryV1 } from './summary-schema.ts';

/** `reports/<UTC time>-<backend>-<N>`, e.g. reports/20261124T221500Z-local-100000. */
export function reportDirName(startedAt: Date, backend: string, n: number): string {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${backend}-${n}`;
}

export function makeReportDir(root: string, backend: string, n: number, now = new Date()): string {
  let dir = join(root, reportDirName(now, backend, n));
  for (let i = 2; ; i++) {
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      dir = join(root, `${reportDirName(now, backend, n)}-${i}`);
    }
  }
}

/** The figures (for code such as bench/) and summary.json's document (what the files and --json carry). */
export interface WrittenReport {
  summary: Summary;
  document: SummaryV1;
}

/**
 * The figures and summary.json's document of a run, from its two files: summarize(), the document, and the run's
 * thresholds evaluated on that document (they name its fields; the verdict follows them). What writeReport writes,
 * and what a comparison reads of each run.
 */
export function computeReport(table: SamplesTable, record: RunRecord): WrittenReport {
  const summary = summarize(table, record);
  const document = summaryDocument(summary, record);
  const thresholds = recordThresholds(record);
  if (thresholds.length) {
    const results = evaluateThresholds(thresholds, document);
    summary.thresholds = results;
    document.thresholds = results.map((r) => ({
      expression: r.text, field: r.field, op: r.op, limit: r.value, ...(r.actual !== undefined ? { actual: r.actual } : {}), passed: r.pass, ...(r.note ? { note: r.note } : {}),
    }));
    applyThresholdVerdict(document);
  }
  assertSummary(document);
  return { summary, document };
}

export function writeReport(dir: string, options: { updateLatest?: boolean } = {}): WrittenReport {
  const record = readRunRecord(dir);
  const table = readSamplesTable(dir);
  const { summary, document } = computeReport(table, record);
  const md = renderReportMd(summary, record);
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), md);
  writeFileSync(join(dir, 'report.html'), renderReportHtml(summary, document, record, table, md));
  if (options.updateLatest !== false) pointLatest(dir);
  return { summary, document };
}

/** Atomically repoints `<parent>/latest` (relative link, so the folder can be moved or copied whole). */
export function pointLatest(dir: string): void {
  const parent = dirname(dir);
  const tmp = join(parent, `.latest-${process.pid}`);
  try {
    if (lstatSync(tmp)) unlinkSync(tmp);
  } catch {
    // no leftover
  }
  symlinkSync(basename(dir), tmp);
  renameSync(tmp, join(parent, 'latest'));
}
