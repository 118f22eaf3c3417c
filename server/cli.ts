/**
 * comet-lab server: parses flags, consolidates config (defaults -> env -> flags), starts the server and prints
 * `comet-lab server ready {"host","port","workers","engine","pid"}` on stdout. SIGTERM/SIGINT end every stream
 * cleanly and exit with 130 within 5 s.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, LabError } from '../shared/errors.ts';
import { resolveConfig, type RawOptions } from './config.ts';
import { ENGINE_NAMES } from './engines/engine.ts';
import { startServer } from './server.ts';

function fail(err: unknown): never {
  if (err instanceof LabError) {
    process.stderr.write(`comet-lab server: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`comet-lab server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT.failure);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('comet-lab-server')
    .description('The comet server: chunked, SSE and long-poll streams, a router across worker processes, metrics')
    .option('--host <host>', 'address to listen on (env COMET_HOST)', undefined)
    .option('--port <port>', 'port, 0 for a free one (env COMET_PORT; default 8000)')
    .option('--workers <n|auto>', 'worker processes; auto = max(cores, 1.1 x max-connections / fds per worker) (env COMET_WORKERS)')
    .option('--engine <name>', `streaming engine: ${ENGINE_NAMES.join('|')} (env COMET_ENGINE; default raw)`)
    .option('--interval <duration>', 'heartbeat interval, e.g. 10s or 500ms (env COMET_INTERVAL; default 10s)')
    .option('--poll-wait <duration>', 'long-poll wait before 204 (env COMET_POLL_WAIT; default 30s)')
    .option('--headers-timeout <duration>', 'drop a client whose request head is not complete by then (default 10s)')
    .option('--max-connections <n>', 'connection ceiling used by --workers auto (env COMET_MAX_CONNECTIONS; default 10000)')
    .option('--backlog <n>', 'listen backlog (env COMET_BACKLOG; default 4096)')
    .option('--max-queued <bytes>', 'drop a stream whose unsent bytes exceed this (default 262144)')
    .addHelpText('after', '\nEnvironment: COMET_ADMIN_TOKEN makes send and broadcast demand Authorization: Bearer <token>.')
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
  server.on('worker-exit', (w, pid, reason) => {
    if (!stopping) process.stderr.write(`comet-lab server: worker ${w} (pid ${pid}) exited: ${reason}; replacing it\n`);
  });
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(EXIT.interrupted), 4800);
    force.unref();
    void server.stop().then(() => process.exit(EXIT.interrupted));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const ready = { host: server.host, port: server.port, workers: server.workers, engine: server.engine, pid: server.pid };
  process.stdout.write(`comet-lab server ready ${JSON.stringify(ready)}\n`);
}

main(process.argv.slice(2)).catch(fail);
