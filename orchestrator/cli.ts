/**
 * comet-lab's orchestrator CLI. Parses flags and calls the exported functions (flood, plan, report) that the
 * tests call too; prints LabErrors as message + hint (never a stack) and exits with their code.
 *
 *   node_modules/.bin/node orchestrator/cli.ts flood --n 100000
 *   node_modules/.bin/node orchestrator/cli.ts plan --n 1000000
 *   node_modules/.bin/node orchestrator/cli.ts report [--dir reports/latest] [--regenerate DIR] [--compare A B]
 *   node_modules/.bin/node orchestrator/cli.ts compare --n 50000 --targets comet-lab,nchan,nginx-idle,mochiweb
 */
import { Command, CommanderError } from 'commander';
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, LabError } from '../shared/errors.ts';
import { resolveFloodConfig, type RawOptions } from './config/flood-config.ts';
import { flood, summaryLine, targetPlan, type FloodHooks, type FloodIo } from './flood.ts';
import { formatPlan } from './plan/format-plan.ts';
import { makeFloodPlan } from './plan/make-flood-plan.ts';
import { makeSwarmFloodPlan } from './plan/make-swarm-plan.ts';
import { readRunRecord } from './report/run-record.ts';
import { writeReport } from './report/write-report.ts';
import { summarize } from './report/summarize.ts';
import { summaryDocument } from './report/summary-document.ts';
import { readSamplesTable } from './report/samples-table.ts';
import { makeTarget, TARGET_FORMS } from './targets/targets.ts';
import { compare, compareFolders, splitTargets } from './compare/compare.ts';

/** Flags shared by flood and plan, named as FloodConfig's keys so commander's result is the raw config. */
function floodOptions(cmd: Command): Command {
  return cmd
    .option('--n <N>', 'connections to ramp to and hold')
    .option('--backend <name>', 'auto | local | docker | swarm (auto: docker or swarm when that lab is up, else local)')
    .option('--rate <R>', 'connections per second, all load generators together (default 2000)')
    .option('--hold <duration>', 'how long to hold N (default 30s)')
    .option('--interval <duration>', 'server heartbeat interval (default 10s)')
    .option('--engine <name>', "server engine (default: the server's)")
    .option('--transport <name>', 'chunked | sse | poll | ws (default chunked)')
    .option('--workers <n>', 'server workers (default: planned from the file limit)')
    .option('--loadgen-procs <n>', 'load-generator processes in all (default: planned)')
    .option('--target <T>', `the server under test: ${TARGET_FORMS} (default comet-lab)`)
    .option('--server-pid <P>', 'url: targets: the process serving it (its memory is measured)')
    .option('--server-container <C>', 'url: targets: the container serving it (docker stats)')
    .option('--target-ready-timeout <duration>', 'how long a cmd: server gets to listen (default 30s)');
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Flags of the commands that run floods and write reports (flood, compare). */
function runOptions(cmd: Command): Command {
  return cmd
    .option('--sends-rate <R>', 'routed sends per second after the hold (autocannon, POST /send/:id); 0 = none')
    .option('--sends-duration <duration>', 'how long the sends phase lasts (default 10s)')
    .option('--sends-connections <n>', 'concurrent HTTP connections autocannon sends over (default 64)')
    .option('--broadcast', 'one broadcast after the hold; measures fan-out time')
    .option('--force', 'run even when the plan is refused')
    .option('--json', 'one JSON line per event on stdout instead of the progress bar')
    .option('--live-port <P>', 'serve the live page on this loopback port (default 0: any free one, printed)')
    .option('--no-live', 'serve no live page')
    .option('--metrics-port <P>', 'serve lab_* Prometheus metrics on this loopback port (default 0: any free one, printed)')
    .option('--no-metrics', 'serve no lab_* metrics')
    .option('--out <dir>', 'folder of report folders (default reports/)')
    .option('--sample <duration>', 'sample interval (default 1s)')
    .option('--stall-timeout <duration>', 'end a ramp that gained nothing for this long (default 30s)')
    .option('--wait-busy <duration>', 'wait this long for another flood on this host to end (env LAB_FLOOD_WAIT; default: refuse at once)')
    .option('--threshold <cond>', "pass/fail on a summary.json field, e.g. 'server.kibPerConnection<6' (repeatable; a failure exits 5)", collect);
}

function toRaw(o: Record<string, unknown>): RawOptions {
  const s = (v: unknown) => (v === undefined ? undefined : typeof v === 'boolean' ? v : String(v));
  return {
    n: s(o.n), backend: s(o.backend), rate: s(o.rate), holdSeconds: s(o.hold), intervalSeconds: s(o.interval),
    engine: s(o.engine), transport: s(o.transport), workers: s(o.workers), loadgenProcs: s(o.loadgenProcs),
    sendsRate: s(o.sendsRate), sendsSeconds: s(o.sendsDuration), sendsConnections: s(o.sendsConnections), broadcast: s(o.broadcast), force: s(o.force),
    json: s(o.json), livePort: o.live === false ? false : s(o.livePort), metricsPort: o.metrics === false ? false : s(o.metricsPort), out: s(o.out),
    report: o.report === false ? false : undefined, sampleSeconds: s(o.sample), stallSeconds: s(o.stallTimeout), busyWaitSeconds: s(o.waitBusy),
    target: s(o.target), targetReadySeconds: s(o.targetReadyTimeout), serverPid: s(o.serverPid), serverContainer: s(o.serverContainer), thresholds: o.threshold as string[] | undefined,
  };
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[], io: FloodIo, hooks: FloodHooks = {}): Promise<number> {
  let exitCode: number = EXIT.ok;
  const say = (text: string) => io.stdout.write(`${text}\n`);
  const program = new Command('lab')
    .description('comet-lab orchestrator: plan, flood, report')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  runOptions(floodOptions(program.command('flood').description('plan, ramp N connections, hold, measure, write a report')))
    .option('--no-report', 'write no report folder')
    .action(async (opts: Record<string, unknown>) => {
      const config = resolveFloodConfig(toRaw(opts), io.env);
      exitCode = (await flood(config, io, hooks)).exitCode;
    });

  runOptions(floodOptions(program.command('compare').description('the same flood against each target, one after the other; one comparison report')))
    .requiredOption('--targets <list>', `targets, comma-separated: ${TARGET_FORMS}`)
    .action(async (opts: Record<string, unknown>) => {
      const targets = splitTargets(String(opts.targets));
      const config = resolveFloodConfig({ ...toRaw(opts), target: undefined }, io.env);
      exitCode = (await compare(config, targets, io)).exitCode;
    });

  floodOptions(program.command('plan').description('print the plan for N on this host; start nothing'))
    .action(async (opts: Record<string, unknown>) => {
      const config = resolveFloodConfig(toRaw(opts), io.env, false);
      const target = makeTarget(config.target, { serverPid: config.serverPid, serverContainer: config.serverContainer });
      const plan = config.backend === 'swarm'
        ? await makeSwarmFloodPlan(config, io.env)
        : targetPlan(makeFloodPlan(config, config.backend === 'docker' || target.kind === 'image' ? 'docker' : 'local'), target);
      say(formatPlan(plan));
      if (plan.refusals.length > 0) exitCode = EXIT.preflight;
    });

  program.command('report')
    .description('where the latest report is, and its summary')
    .option('--dir <dir>', 'a report folder (default reports/latest)')
    .option('--regenerate <dir>', 'recompute report.md, report.html and summary.json of a folder from its samples.csv and run.json')
    .option('--compare <dirs...>', 'compare earlier run folders (two or more) in one report, as `compare` does')
    .option('--out <dir>', 'where the comparison folder goes (default reports/)')
    .action((opts: { dir?: string; regenerate?: string; compare?: string[]; out?: string }) => {
      if (opts.compare) {
        const { dir } = compareFolders(opts.compare.map((d) => resolve(d)), resolve(opts.out ?? (io.env.LAB_OUT || 'reports')));
        say(`compare report: ${join(dir, 'compare.md')} (and compare.html, compare.json)`);
        return;
      }
      if (opts.regenerate) {
        const dir = resolve(opts.regenerate);
        const { document } = writeReport(dir, { updateLatest: false });
        say(`regenerated ${join(dir, 'report.md')}\n${summaryLine(document)}`);
        return;
      }
      const link = resolve(opts.dir ?? join(io.env.LAB_OUT || 'reports', 'latest'));
      if (!existsSync(link)) {
        throw new LabError('LAB_ERR_NO_REPORT', `no report at ${link}`, { exitCode: EXIT.usage, hint: 'run `make flood N=...` first' });
      }
      const dir = realpathSync(link);
      const record = readRunRecord(dir);
      const document = summaryDocument(summarize(readSamplesTable(dir), record), record);
      say(`latest report: ${join(dir, 'report.md')} (and report.html, samples.csv, summary.json)\n${summaryLine(document)}`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof LabError) {
      io.stderr.write(`error ${err.code}: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
    throw err;
  }
  return exitCode;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signals: process, exit: (code) => process.exit(code) });
}
