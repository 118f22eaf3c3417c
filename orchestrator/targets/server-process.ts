/**
 * Starts one server process of a target (already wrapped into its cgroup by the backend) and waits until it is
 * ready: its port accepts a connection, or it printed a ready line. No fixed sleep: the port is tried every 50 ms,
 * and a process that exits first fails at once with its last stderr lines, which is what a user needs to see
 * when `cmd:'...'` is mistyped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from '../../shared/errors.ts';

export interface ServerProcess {
  child: ChildProcess;
  pid: number | undefined;
  /** `exit code 1`, `killed by SIGKILL`...; undefined while it runs. */
  exitReason(): string | undefined;
  stderrTail: string[];
  exited: Promise<void>;
  /** Sends `signal` to its process group, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
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
  logFile?: string;
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

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
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
  const argv = ['/bin/sh', '-c', LIFELINE, 'comet-lab-lifeline', ...command];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true, cwd: opts.cwd, env: opts.env ?? process.env });
  child.stdin!.on('error', () => undefined); // never written; an EPIPE after the server's end is no news
  const log: WriteStream | undefined = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  log?.on('error', () => undefined); // a log that cannot be written must not stop the run
  const stderrTail: string[] = [];
  let reason: string | undefined;
  let readyLines = 0;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      reason = signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      reason = `could not start: ${err.message}`;
      resolve();
    });
  });
  // The log ends when both pipes close, not when the child exits: processes it started (mochiweb's VMs behind
  // their shell) hold the pipes and may still write after it.
  const err = createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > TAIL_LINES) stderrTail.shift();
    log?.write(`[stderr] ${line}\n`);
  });
  const out = createInterface({ input: child.stdout! }).on('line', (line) => {
    log?.write(`${line}\n`);
    if (opts.readyLine && line.startsWith(opts.readyLine)) readyLines++;
  });
  void Promise.all([once(err, 'close'), once(out, 'close')]).then(() => log?.end());

  const proc: ServerProcess = {
    child,
    pid: child.pid,
    exitReason: () => reason,
    stderrTail,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      if (reason !== undefined || child.pid === undefined) return;
      signalGroup(child.pid, signal);
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        signalGroup(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };

  const deadline = Date.now() + opts.timeoutMs;
  const where = opts.port ? `listening on ${opts.port.host}:${opts.port.port}` : `printing '${opts.readyLine}'`;
  for (;;) {
    await sleep(50);
    // Give a process that exits right away the time to say why before its output is read.
    if (reason !== undefined) {
      await sleep(100);
      throw startError(opts.what, `exited before ${where} (${reason})`, stderrTail, command);
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
