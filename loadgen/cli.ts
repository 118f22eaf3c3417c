/**
 * comet-lab's flood client. Parses flags, builds the config (defaults, LOADGEN_* env, flags) and runs a LoadgenRun;
 * prints the ready line, the periodic {Active, Closed, Chunks} line and the final totals.
 *
 *   node_modules/.bin/node loadgen/cli.ts --url 'http://127.0.0.1:8000/test/{i}' --count 1000 --interval 100ms
 */
import { Command, CommanderError } from 'commander';
import { EXIT, LabError } from '../shared/errors.ts';
import { buildConfig, DEFAULT_RATE, layerEnv, type RawOptions } from './config.ts';
import { watchParent } from '../shared/parent-watch.ts';
import { reportLine } from './report-line.ts';
import { readyLine } from '../shared/ready-line.ts';
import { LoadgenRun } from './run.ts';

export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

function program(io: CliIo): Command {
  return new Command('loadgen')
    .description('Open and hold many comet connections; count chunks, messages and delivery latency')
    .option('--url <template>', 'URL template, {i} = connection index, e.g. http://127.0.0.1:8000/test/{i}')
    .option('--urls-file <path>', 'file of URLs, one per line (blank lines and # comments skipped)')
    .option('--count <n>', 'most connections to open (default: the URL file length)')
    .option('--start <i>', 'first index for {i} (default 0)')
    .option('--interval <duration>', "wait between connections, e.g. 100ms (the seed's pace)")
    .option('--rate <n>', `connections per second (default ${DEFAULT_RATE}); 0: wait for POST /ramp`)
    .option('--hold', 'open nothing until POST /ramp (the control API opens on a free port unless --control-port)')
    .option('--pacing <mode>', 'closed-loop (default: slow down when connects slow or time out) | fixed')
    .option('--pace-latency <duration>', 'closed loop: connect latency above which the rate backs off (default 1s)')
    .option('--connect-retries <n>', 'times a timed-out connect is tried again (default 3)')
    .option('--max-connecting <n>', 'cap on connections still being set up (default 1000)')
    .option('--connect-timeout <duration>', 'connect + response head timeout (default 10s)')
    .option('--io <kind>', 'auto (raw where the raw TCP bindings exist, else net) | raw | net')
    .option('--source-ips <spec>', 'source addresses: list, range 127.0.0.2-127.0.0.40, or CIDR')
    .option('--local-ports <lo-hi>', 'local ports to walk per source address (default: ip_local_port_range)')
    .option('--procs <n|auto>', 'processes (each under the open-file limit; default auto)')
    .option('--duration <duration>', 'stop everything after this long (default 300s; bare number = seconds)')
    .option('--hold-for <duration>', 'stop this long after the ramp is done')
    .option('--control-port <port>', 'serve the control API on this port (0: a free one)')
    .option('--control-host <host>', 'control API address (default 127.0.0.1)')
    .option('--control-token-file <path>', 'token POSTs must carry (else LOADGEN_CONTROL_TOKEN, else a new one: see the ready line)')
    .option('--transport <name>', 'chunked | sse | poll | ws (default chunked; ws for ws:// URLs)')
    .option('--reconnect', 'reopen closed connections with jittered exponential backoff')
    .option('--keep-open', 'keep each connection open (and active) after its response ended: idle keep-alive')
    .option('--backoff-base <duration>', 'first reconnect delay (default 100ms)')
    .option('--backoff-max <duration>', 'longest reconnect delay (default 30s)')
    .option('--report-every <duration>', 'status line period (default 10s)')
    .option('--exit-with-parent', 'stop when the process that started this one is gone: stdin EOF, IPC closed, re-parented')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.trimEnd()), writeErr: (s) => io.stderr(s.trimEnd()) });
}

/** Runs the CLI; resolves with the exit code. `signals` lets tests (and the real process) stop it. */
export async function main(argv: string[], io: CliIo, onRun?: (run: LoadgenRun) => void): Promise<number> {
  const cmd = program(io);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  const raw = layerEnv(cmd.opts<RawOptions>(), io.env);
  const { config, problems, warnings } = buildConfig(raw);
  for (const w of warnings) io.stderr(`loadgen: warning: ${w}`);
  if (!config) {
    io.stderr(`loadgen: ${problems.join('\nloadgen: ')}\n(see --help)`);
    return EXIT.usage;
  }
  const run = new LoadgenRun(config);
  run.on('ready', (info) => io.stdout(readyLine('loadgen', info)));
  run.on('warning', (w) => io.stderr(`loadgen: ${w}`));
  run.on('report', (s) => io.stdout(reportLine(s)));
  onRun?.(run);
  // The orchestrator starts load generators with a stdin pipe it holds: if it is SIGKILLed, they stop within 0.5 s
  // instead of holding their connections until --duration (or until a report line hits the closed stdout).
  const unwatch = cmd.opts<{ exitWithParent?: boolean }>().exitWithParent ? watchParent(() => void run.stop('parent-gone')) : undefined;
  void run.done.then(() => unwatch?.());
  try {
    await run.start();
  } catch (err) {
    if (err instanceof LabError) {
      io.stderr(`loadgen: ${err.code}: ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
      return err.exitCode;
    }
    throw err;
  }
  const { status, reason } = await run.done;
  io.stdout(`final (${reason}): ${reportLine(status)}`);
  io.stdout(`comet-lab loadgen final ${JSON.stringify(status)}`);
  return reason === 'signal' || reason === 'parent-gone' ? EXIT.interrupted : EXIT.ok;
}

/** The CLI as a process runs it: stdio, signals stop the run, the exit code ends the process (also docker/'s swarm entry). */
export function runCli(argv: string[]): void {
  const io: CliIo = { stdout: (l) => process.stdout.write(`${l}\n`), stderr: (l) => process.stderr.write(`${l}\n`), env: process.env };
  main(argv, io, (run) => {
    const onSignal = () => void run.stop('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`loadgen: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}

if (import.meta.main) runCli(process.argv.slice(2));
