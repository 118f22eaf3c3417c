/**
 * `make bench ARGS=...`: the scale benchmark. Parses flags, consolidates config (defaults -> BENCH_* env -> flags,
 * every problem at once, exit 2), runs the stages and prints where the results went. SIGINT/SIGTERM stop the run,
 * clean up what it started and exit 130. Missed targets are results, not failures: exit 0 unless a stage failed.
 *
 *   node_modules/.bin/node bench/cli.ts [--only memory,cpu,flood,fanout,sends,broadcast] [--n 100000,1000000] [--interval 10s]
 */
import { Command, CommanderError } from 'commander';
import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EXIT, LabError } from '../shared/errors.ts';
import { resolveBenchConfig, ENV_NAMES, type RawBenchOptions } from './config.ts';
import { printProgress } from './progress-listener.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadResults, updateReadme } from './report/readme-section.ts';
import { renderResultsMd } from './report/results-md.ts';
import { BenchRun } from './run-bench.ts';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  signals?: EventEmitter;
}

function program(io: CliIo): Command {
  return new Command('bench')
    .description('comet-lab scale benchmark: memory per idle connection vs nginx, CPU per chunk and broadcast vs a C pair, floods, fan-out, routed sends')
    .option('--only <stages>', 'comma-separated stages: memory,cpu,flood,fanout,sends,broadcast (default all)')
    .option('--n <list>', 'flood sizes, comma-separated (default 100000,1000000)')
    .option('--memory-n <n>', 'idle connections of the memory stage, one worker (default 15000)')
    .option('--engines <list>', 'server engines of the memory stage (default every engine)')
    .option('--references <list>', 'references of the memory stage (orchestrator targets): floor,nchan,mochiweb or none (default all)')
    .option('--interval <duration>', 'server heartbeat (default 10s)')
    .option('--hold <duration>', 'how long each flood holds N (default 30s)')
    .option('--rate <n>', 'connections per second asked of the load generators (default 10000)')
    .option('--engine <name>', "the floods' server engine (default: the server's)")
    .option('--transport <name>', "the floods' transport: chunked, sse, poll or ws (default chunked)")
    .option('--sends-rate <n>', 'routed sends per second (default 20000)')
    .option('--sends-duration <duration>', 'how long the sends last (default 10s)')
    .option('--cpu-n <n>', 'streams of the CPU stage, one process per side (default 10000)')
    .option('--cpu-rates <list>', 'heartbeat chunks per second the CPU stage asks (default 10000,100000)')
    .option('--cpu-transports <list>', 'transports of the CPU stage: chunked,sse,ws (default all three)')
    .option('--cpu-window <duration>', 'measuring window of each CPU run (default 10s)')
    .option('--cpu-settle <duration>', 'wait between holding every stream and the window (default 10s)')
    .option('--cpu-rounds <n>', 'runs of each pair per transport and rate, alternating (default 3)')
    .option('--broadcast-n <list>', 'connection counts of the broadcast stage against the C pair (default 100000)')
    .option('--broadcast-rounds <n>', 'broadcasts per pair at each N (default 3)')
    .option('--port-drain <duration>', 'longest wait before each memory target for TIME_WAIT sockets to expire (default 65s)')
    .option('--time-limit <duration>', 'hard bound per flood (default auto: from N, rate, hold)')
    .option('--force', "run each --n as asked even where kernel/'s memory estimate says it does not fit (the 1.5 GiB memory guard still stops it)")
    .option('--results-dir <dir>', 'where the dated results files go (default bench/results)')
    .option('--reports-dir <dir>', "where the orchestrator's flood reports go (default reports)")
    .option('--readme <path>', 'README whose bench section is regenerated, or none (default README.md)')
    .option('--regenerate', "run nothing: rewrite the results .md files and README's bench section from the .json files")
    .option('--host-label <name>', 'host part of the results file name (default the host name)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
}

/** The command that reproduces this run, as the results file states it. */
function commandLine(argv: string[], env: NodeJS.ProcessEnv): string {
  const envPart = Object.values(ENV_NAMES).filter((k) => env[k]).map((k) => `${k}=${env[k]}`);
  return [...envPart, 'flock /tmp/comet-lab-heavy.lock node_modules/.bin/node bench/cli.ts', ...argv].join(' ');
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const cmd = program(io);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  const o = cmd.opts<Record<string, string | undefined>>();
  const raw: RawBenchOptions = {
    only: o.only, n: o.n, memoryN: o.memoryN, engines: o.engines, references: o.references, interval: o.interval, hold: o.hold,
    rate: o.rate, engine: o.engine, transport: o.transport, sendsRate: o.sendsRate, sendsDuration: o.sendsDuration, portDrain: o.portDrain, timeLimit: o.timeLimit,
    force: o.force ? 'true' : undefined, resultsDir: o.resultsDir, reportsDir: o.reportsDir, readme: o.readme, hostLabel: o.hostLabel,
    cpuN: o.cpuN, cpuRates: o.cpuRates, cpuTransports: o.cpuTransports, cpuWindow: o.cpuWindow, cpuSettle: o.cpuSettle, cpuRounds: o.cpuRounds,
    broadcastN: o.broadcastN, broadcastRounds: o.broadcastRounds,
  };
  const config = resolveBenchConfig(raw, io.env);
  if (o.regenerate) {
    if (!config.readme) throw new LabError('LAB_ERR_USAGE', '--regenerate with --readme none has nothing to do', { exitCode: EXIT.usage });
    // Every results .md again from its .json (targets re-checked), then README's section from all of them.
    for (const { file, results } of loadResults(config.resultsDir)) writeFileSync(join(config.resultsDir, file), renderResultsMd(results));
    updateReadme(config.readme, config.resultsDir);
    io.stdout.write(`results files and the bench section of ${config.readme} regenerated from ${config.resultsDir}\n`);
    return EXIT.ok;
  }
  const run = new BenchRun(config, commandLine(argv, io.env));
  const stopPrinting = printProgress(run, io.stderr);
  const onSignal = () => run.abort('interrupted');
  io.signals?.on('SIGINT', onSignal);
  io.signals?.on('SIGTERM', onSignal);
  try {
    const outcome = await run.run(io);
    io.stdout.write(`bench results: ${outcome.mdPath}\n`);
    if (run.aborted) return EXIT.interrupted;
    return outcome.failed ? EXIT.failure : EXIT.ok;
  } finally {
    io.signals?.off('SIGINT', onSignal);
    io.signals?.off('SIGTERM', onSignal);
    stopPrinting();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signals: process })
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      if (err instanceof LabError) {
        process.stderr.write(`bench: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(EXIT.failure);
    });
}
