/**
 * Starts one server process of a target (already wrapped into its cgroup by the backend) and waits until it is
 * ready: its port accepts a connection, or it printed a ready line. No fixed sleep: the port is tried every 50 ms,
 * and a process that exits first fails at once with its last stderr lines, which is what a user needs to see
 * when `cmd:'...'` is mistyped.
 */
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from '../../shared/errors.ts';
import { spawnWatched, type WatchedChild } from '../backends/local/watched-child.ts';
import type { LaunchedServer } from './target.ts';

/** A target's server process (watched-child.ts) behind its lifeline. */
export interface ServerProcess extends WatchedChild {
  pid: number | undefined;
}

export interface StartOptions {
  /** What the error messages call it: `nginx (nchan)`, `cmd: node srv.js`. */
  what: string;
  /** Ready when this loopback port accepts a TCP connection... */
  port?: { host: string; port: number };
  /** ...or when a stdout line starts with this... */
  readyLine?: string;
  /** ...this many times (several processes behind one shell; default 1). */
  readyCount?: number;
  timeoutMs: number;
  /** The run's log folder: the server's output goes to `server.log` there. */
  logDir?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const TAIL_LINES = 20;

export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * A server the lab did not write cannot be told `--exit-with-parent`, so it runs behind a lifeline: a shell keeps the
 * stdin pipe this process holds (and never writes) on fd 3 in a small watcher, gives the server /dev/null, and execs
 * it; when this process dies, even by SIGKILL, the kernel closes the pipe, the watcher reads EOF and sends SIGTERM to
 * the whole process group (the server, nginx's workers, mochiweb's VMs). Nothing is left running for the next flood
 * to find.
 */
const LIFELINE = 'exec 3<&0; (cat <&3 >/dev/null; kill -TERM 0) & exec "$@" 3<&- </dev/null';

export async function startServerProcess(command: string[], opts: StartOptions): Promise<ServerProcess> {
  let readyLines = 0;
  const watched = spawnWatched(['/bin/sh', '-c', LIFELINE, 'comet-lab-lifeline', ...command], {
    stdin: 'pipe',
    tailLines: TAIL_LINES,
    logFile: opts.logDir ? join(opts.logDir, 'server.log') : undefined,
    cwd: opts.cwd,
    env: opts.env,
    onStdoutLine: (line) => {
      if (opts.readyLine && line.startsWith(opts.readyLine)) readyLines++;
    },
  });
  const proc: ServerProcess = { ...watched, pid: watched.child.pid };
  const { stderrTail } = watched;
  const deadline = Date.now() + opts.timeoutMs;
  const where = opts.port ? `listening on ${opts.port.host}:${opts.port.port}` : `printing '${opts.readyLine}'`;
  for (;;) {
    await sleep(50);
    // Give a process that exits right away the time to say why before its output is read.
    if (proc.exitReason() !== undefined) {
      await sleep(100);
      throw startError(opts.what, `exited before ${where} (${proc.exitReason()})`, stderrTail, command);
    }
    if (opts.readyLine ? readyLines >= (opts.readyCount ?? 1) : await canConnect(opts.port!.host, opts.port!.port)) return proc;
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL', 1000);
      throw startError(opts.what, `was not ${where} within ${opts.timeoutMs / 1000} s`, stderrTail, command);
    }
  }
}

function startError(what: string, why: string, tail: string[], command: string[]): LabError {
  const last = tail.length ? `\nits last stderr lines:\n  ${tail.slice(-10).join('\n  ')}` : '\nit wrote nothing to stderr';
  return new LabError('LAB_ERR_TARGET_START', `${what} ${why}${last}`, { hint: `command: ${command.join(' ')}` });
}

/**
 * What a launcher hands the backend for a server started here on 127.0.0.1:`port`: its pid, why it ended (with its
 * last stderr line), and `stop` (the target's own: the signal, its grace, what it removes afterwards).
 */
export function launchedServer(proc: ServerProcess, port: number, stop: () => Promise<void>): LaunchedServer {
  return {
    url: `http://127.0.0.1:${port}`,
    listen: { port },
    pid: () => proc.pid,
    exitReason: () => {
      const r = proc.exitReason();
      return r === undefined ? undefined : `${r}${proc.stderrTail.length ? `: ${proc.stderrTail.at(-1)}` : ''}`;
    },
    stop,
    managed: true,
  };
}
