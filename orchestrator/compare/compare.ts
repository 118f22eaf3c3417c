/**
 * `compare`: the same flood against each target, one after the other, on this host, with one plan; then one
 * comparison report made from the runs' folders. Every target is built and checked (preflight) before the first
 * run starts, so a mistyped one fails at once with nothing started. Each run is an ordinary flood() whose report
 * folder sits inside the comparison's; between runs the host is given time to close the last run's sockets.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, LabError, usageError, type ExitCode } from '../../shared/errors.ts';
import type { BackendChoice, FloodConfig } from '../config/flood-config.ts';
import { flood, prepareTarget, type FloodHooks, type FloodIo } from '../flood.ts';
import { makeFloodPlan } from '../plan/make-flood-plan.ts';
import type { Plan } from '../plan/plan.ts';
import { makeReportDir } from '../report/write-report.ts';
import { readSockstat } from '../run/sockstat.ts';
import type { Target } from '../targets/target.ts';
import { makeTarget, targetProblems } from '../targets/targets.ts';
import { buildCompareReport, writeCompareReport, type CompareReport } from './compare-report.ts';
import { loadRun, type LoadedRun } from './compare-rows.ts';

export interface CompareResult {
  exitCode: ExitCode;
  dir: string;
  report?: CompareReport;
}

export interface CompareHooks {
  /** Hooks for each target's flood (tests read cgroups and `ss` during each hold). */
  flood?: (target: string) => FloodHooks;
  /** Longest wait for the last run's sockets to close between runs (default 30 s). */
  settleSeconds?: number;
}

/** The targets of `--targets a,b,c`: every problem with any of them at once. */
export function compareTargetProblems(targets: string[]): string[] {
  if (targets.length < 2) return [`compare needs at least two targets (--targets comet-lab,nchan,...), got ${targets.length}`];
  const dupes = targets.filter((t, i) => targets.indexOf(t) !== i);
  return [...targets.flatMap((t) => targetProblems(t)), ...(dupes.length ? [`--targets names ${dupes.join(', ')} twice`] : [])];
}

/** The backends compare can run on: its one plan (makeFloodPlan) is made for these; a swarm run plans for itself. */
const COMPARE_BACKENDS = ['local', 'docker'] as const;

/**
 * The one backend every target of a comparison runs on: one they all support; `--backend` when given (refused when
 * a target cannot run there); under auto the local backend where they all run on it (no lab to be up), else Docker.
 */
export function compareBackend(targets: Array<Pick<Target, 'name' | 'backends'>>, choice: BackendChoice): 'local' | 'docker' {
  const shared = COMPARE_BACKENDS.filter((b) => targets.every((t) => t.backends.includes(b)));
  const each = targets.map((t) => `${t.name} (${t.backends.join('/')})`).join(', ');
  if (choice !== 'auto') {
    if (choice === 'swarm') throw usageError([`--backend swarm: compare runs on the local or Docker backend (the swarm runs comet-lab's own server only)`]);
    if (shared.includes(choice)) return choice;
    const cannot = targets.filter((t) => !t.backends.includes(choice)).map((t) => t.name);
    throw usageError([`--backend ${choice}: compare runs every target on it, and ${cannot.join(', ')} cannot run there (${each})${shared.length ? `; they all run on ${shared.join(', ')}` : ''}`]);
  }
  if (shared.length === 0) throw usageError([`compare runs every target on one backend: ${each} do not share one`]);
  return shared[0]!;
}

/** Splits `--targets`: commas separate targets, except inside cmd:'...' (a command line may hold commas). */
export function splitTargets(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

/**
 * Between runs: the last run's processes are gone (flood() returns after its teardown), but the kernel still closes
 * their sockets (orphans, FIN exchanges) for a moment; the next server's baseline is read once that is done, or after
 * `maxSeconds`. Counted as orphans in /proc/net/sockstat, compared with the count before the run (other work on
 * the host has its own).
 */
async function settle(orphansBefore: number, maxSeconds: number): Promise<void> {
  await sleep(2000);
  const until = Date.now() + maxSeconds * 1000;
  while (readSockstat().orphan > orphansBefore + 100 && Date.now() < until) await sleep(500);
}

export async function compare(config: FloodConfig, targetTexts: string[], io: FloodIo, hooks: CompareHooks = {}): Promise<CompareResult> {
  const problems = compareTargetProblems(targetTexts);
  if (problems.length) throw usageError(problems, 'e.g. --targets comet-lab,nchan,nginx-idle,mochiweb');
  const backend = compareBackend(targetTexts.map((t) => makeTarget(t)), config.backend);
  const targets: Target[] = [];
  for (const text of targetTexts) targets.push(await prepareTarget({ ...config, target: text, backend }));
  const plan = makeFloodPlan({ ...config, backend }, backend);
  if (plan.refusals.length > 0 && !config.force) {
    throw new LabError('LAB_ERR_PLAN_REFUSED', `this host cannot run the plan:\n${plan.refusals.map((r) => `  - ${r}`).join('\n')}`, { exitCode: EXIT.preflight, hint: 'lower --n, or --force' });
  }
  const dir = makeReportDir(config.out, 'compare', config.n);
  const planText = `${plan.server.workers} server worker(s) or processes, ${plan.loadgens.length} load generator(s) of ${plan.loadgens.reduce((a, l) => a + l.procs, 0)} process(es), ${plan.transport}, ramp ${plan.rampRate}/s, hold ${plan.holdSeconds} s, heartbeat ${plan.server.heartbeatIntervalMs} ms`;
  const runs: LoadedRun[] = [];
  let exitCode: ExitCode = EXIT.ok;
  for (const [i, target] of targets.entries()) {
    io.stderr.write(`\ncompare: ${i + 1}/${targets.length}: ${target.name}\n`);
    const before = readSockstat().orphan;
    const result = await flood({ ...config, target: target.name, out: dir, backend }, io, {
      ...hooks.flood?.(target.name),
      target,
      plan: () => structuredClone(plan) as Plan,
    });
    rmSync(join(dir, 'latest'), { force: true }); // flood() points <out>/latest at its run; the comparison is the folder
    if (result.reportDir) runs.push(loadRun(result.reportDir));
    if (result.exitCode === EXIT.interrupted) {
      exitCode = EXIT.interrupted;
      break;
    }
    if (result.exitCode !== EXIT.ok && exitCode === EXIT.ok) exitCode = result.exitCode;
    if (i < targets.length - 1) await settle(before, hooks.settleSeconds ?? 30);
  }
  if (runs.length === 0) return { exitCode, dir };
  const report = buildCompareReport(runs, 'runs', planText);
  writeCompareReport(dir, runs, report);
  io.stdout.write(`compare report: ${join(dir, 'compare.md')} (and compare.html, compare.json)\n`);
  return { exitCode, dir, report };
}

/** `report --compare A B ...`: earlier run folders compared the same way, into a new folder under `out`. */
export function compareFolders(dirs: string[], out: string): { dir: string; report: CompareReport } {
  if (dirs.length < 2) throw usageError([`report --compare needs at least two run folders, got ${dirs.length}`]);
  const runs = dirs.map(loadRun);
  const report = buildCompareReport(runs, 'folders');
  const dir = makeReportDir(out, 'compare', report.n);
  writeCompareReport(dir, runs, report);
  return { dir, report };
}
