/**
 * comet-lab server: parses flags, consolidates config (defaults -> env -> flags), starts the server and prints
 * `comet-lab server ready {"host","hosts","port","workers","engine","epoch","pid"}` on stdout. SIGTERM/SIGINT (and,
 * with --exit-with-parent, the death of the process that started it) end every stream cleanly and exit with 130
 * within 5 s.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, LabError } from '../shared/errors.ts';
import { resolveConfig, type RawOptions } from './config.ts';
import { ENGINE_NAMES } from './engines/engine.ts';
import { watchParent } from '../shared/parent-watch.ts';
import { readyLine } from '../shared/ready-line.ts';
import { startServer, type RunningServer } from './server.ts';

function printLabError(err: LabError): void {
  process.stderr.write(`comet-lab server: ${err.code}: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
}

function fail(err: unknown): never {
  if (err instanceof LabError) {
    printLabError(err);
    process.exit(err.exitCode);
  }
  process.stderr.write(`comet-lab server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT.failure);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('comet-lab-server')
    .description('The comet server: chunked, SSE and long-poll streams, a router across worker processes, metrics')
    .option('--host <addresses>', 'IP address(es) to listen on, comma-separated; beyond loopback only with an admin token (env COMET_HOST; default 127.0.0.1)')
    .option('--port <port>', 'port, 0 for a free one (env COMET_PORT; default 8000)')
    .option('--workers <n|auto>', 'worker processes; auto = max(cores, 1.1 x max-connections / fds per worker) (env COMET_WORKERS)')
    .option('--engine <name>', `streaming engine: ${ENGINE_NAMES.join('|')} (env COMET_ENGINE; default raw)`)
    .option('--interval <duration>', 'heartbeat interval, e.g. 10s or 500ms (env COMET_INTERVAL; default 10s)')
    .option('--poll-wait <duration>', 'long-poll wait before 204 (env COMET_POLL_WAIT; default 30s)')
    .option('--headers-timeout <duration>', 'drop a client whose request head is not complete by then (default 10s)')
    .option('--max-connections <n>', 'connection ceiling used by --workers auto (env COMET_MAX_CONNECTIONS; default 10000)')
    .option('--backlog <n>', 'listen backlog (env COMET_BACKLOG; default 4096)')
    .option('--max-queued <bytes>', 'drop a stream whose unsent bytes exceed this (default 262144)')
    .option('--admin-token-file <path>', 'read the admin token from this file (env COMET_ADMIN_TOKEN_FILE; or COMET_ADMIN_TOKEN)')
    .option('--max-api-connections <n>', 'API connections held at once, 32 of them kept for GET /health, /metrics, /stats (env COMET_MAX_API_CONNECTIONS; default 1000)')
    .option('--api-idle-timeout <duration>', 'close an idle keep-alive API connection after this (env COMET_API_IDLE_TIMEOUT; default 5s)')
    .option('--gc-min-interval <duration>', 'GET /stats?gc=1 collects at most once per this (env COMET_GC_MIN_INTERVAL; default 10s)')
    .option('--exit-with-parent', 'stop when the process that started the server is gone: stdin EOF, IPC closed, re-parented (env COMET_EXIT_WITH_PARENT=1)')
    .addHelpText(
      'after',
      '\nToken: with COMET_ADMIN_TOKEN (or --admin-token-file) set, every request but GET /health, /metrics and /stats\n' +
        '(without ?gc=1) needs Authorization: Bearer <token>. Give it by environment or file, never on the command line.',
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    throw err;
  }
  const options = resolveConfig(program.opts<RawOptions>());
  const server = await startServer(options);
  let stopping = false;
  const stopAndExit = (code: number) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code), 4800);
    force.unref();
    void server.stop().then(() => process.exit(code));
  };
  server.on('worker-exit', (w, pid, reason, replaced) => {
    if (!stopping) process.stderr.write(`comet-lab server: worker ${w} (pid ${pid}) exited: ${reason}${replaced ? '; replacing it' : ''}\n`);
  });
  server.on('fatal', (err) => {
    printLabError(err);
    stopAndExit(err.exitCode);
  });
  process.on('SIGTERM', () => stopAndExit(EXIT.interrupted));
  process.on('SIGINT', () => stopAndExit(EXIT.interrupted));
  if (options.exitWithParent) {
    watchParent((why) => {
      process.stderr.write(`comet-lab server: the process that started it is gone (${why}); stopping\n`);
      stopAndExit(EXIT.interrupted);
    });
  }
  printReady(server);
}

function printReady(server: RunningServer): void {
  const { host, hosts, port, workers, engine, epoch, pid } = server;
  process.stdout.write(`${readyLine('server', { host, hosts, port, workers, engine, epoch, pid })}\n`);
}

main(process.argv.slice(2)).catch(fail);
