/**
 * A child process the lab starts and stops as a whole: in a process group of its own (a terminal's Ctrl-C reaches
 * the orchestrator only, which then stops every component in order; a stop reaches the child's own children too),
 * with why it exited, the last lines of its stderr (so that a death can say why), and both streams copied to a log
 * file. The local backend's components (spawn-component.ts) and the targets' servers (targets/server-process.ts)
 * are started with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WatchedChild {
  child: ChildProcess;
  /** Last lines the child wrote to stderr, newest last. */
  stderrTail: string[];
  /** `exit code 1`, `killed by SIGKILL`, `could not start: ...`; undefined while it runs. */
  exitReason(): string | undefined;
  exited: Promise<void>;
  /** Sends `signal` to its process group, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface WatchOptions {
  /**
   * 'pipe': a lifeline, a stdin pipe this process holds open and never writes; when this process dies, even by
   * SIGKILL, the kernel closes it and the child reads EOF. 'ignore': /dev/null.
   */
  stdin: 'pipe' | 'ignore';
  /** How many stderr lines `stderrTail` keeps. */
  tailLines: number;
  /** Both streams are appended here (stderr lines prefixed `[stderr] `). */
  logFile?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Every stdout line, as it comes (its output keeps being drained after that: a full pipe would block it). */
  onStdoutLine?: (line: string) => void;
}

/** Sends `signal` to `pid`'s process group, or to `pid` alone when it leads none; nothing when it is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
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

/** Starts `command` detached (its own process group) and watches it. */
export function spawnWatched(command: string[], options: WatchOptions): WatchedChild {
  const child = spawn(command[0]!, command.slice(1), { stdio: [options.stdin, 'pipe', 'pipe'], detached: true, cwd: options.cwd, env: options.env ?? process.env });
  child.stdin?.on('error', () => undefined); // never written; an EPIPE after the child's end is no news
  const log: WriteStream | undefined = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  log?.on('error', () => undefined); // a log that cannot be written must not stop the run
  const stderrTail: string[] = [];
  let reason: string | undefined;
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
  // The log ends when both pipes close, not when the child exits: processes it started (a server's workers,
  // mochiweb's VMs behind their shell) hold the pipes and may still write after it.
  const err = createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > options.tailLines) stderrTail.shift();
    log?.write(`[stderr] ${line}\n`);
  });
  const out = createInterface({ input: child.stdout! }).on('line', (line) => {
    log?.write(`${line}\n`);
    options.onStdoutLine?.(line);
  });
  void Promise.all([once(err, 'close'), once(out, 'close')]).then(() => log?.end());
  return {
    child,
    stderrTail,
    exitReason: () => reason,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      if (reason !== undefined || child.pid === undefined) return;
      signalGroup(child.pid, signal);
      // Unref'd: a child that ends at once must not keep the orchestrator alive for the rest of the grace (an
      // interrupted flood exited 5 s after its teardown was done, waiting on this timer).
      const done = await Promise.race([exited.then(() => true), sleep(graceMs, undefined, { ref: false }).then(() => false)]);
      if (!done) {
        signalGroup(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
}
