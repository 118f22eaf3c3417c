/**
 * Starts one child process and waits for its ready line (`comet-lab <kind> ready {json}`) on stdout, with a
 * timeout, never a fixed sleep. Keeps the tail of its stderr so that a death can say why, and optionally copies
 * both streams to a log file. The child gets its own process group: a terminal's Ctrl-C reaches the orchestrator
 * only, which then stops every component in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { LabError } from '../../../shared/errors.ts';
import { parseReadyLine, readyPrefix } from '../../../shared/ready-line.ts';

export interface SpawnedComponent {
  child: ChildProcess;
  ready: Record<string, unknown>;
  /** Last lines the child wrote to stderr, newest last. */
  stderrTail: string[];
  /** `exit code 1`, `signal SIGKILL`, ...; undefined while it runs. */
  exitReason(): string | undefined;
  exited: Promise<void>;
}

const TAIL_LINES = 12;

export async function spawnComponent(
  command: string[],
  kind: 'server' | 'loadgen',
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string; lifeline?: boolean },
): Promise<SpawnedComponent> {
  // `lifeline`: the child's stdin is a pipe this process holds open and never writes; when this process dies, even by
  // SIGKILL, the kernel closes it and the child reads EOF (the server's --exit-with-parent ends on that).
  const child = spawn(command[0]!, command.slice(1), {
    stdio: [options.lifeline ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  const log: WriteStream | undefined = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
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
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > TAIL_LINES) stderrTail.shift();
    log?.write(`[stderr] ${line}\n`);
  });
  const prefix = readyPrefix(kind);
  const stdout = createInterface({ input: child.stdout! });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no ready line within ${options.timeoutMs / 1000}s`), options.timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      const tail = stderrTail.length ? `\n${stderrTail.join('\n')}` : '';
      reject(new LabError('LAB_ERR_COMPONENT_START', `${kind} did not start: ${why}${tail}`, { hint: `command: ${command.join(' ')}` }));
    };
    stdout.on('line', (line) => {
      log?.write(`${line}\n`);
      let json: Record<string, unknown> | undefined;
      try {
        json = parseReadyLine(line, prefix);
      } catch {
        return fail(`unreadable ready line: ${line}`);
      }
      if (json === undefined) return;
      clearTimeout(timer);
      resolve(json);
    });
    void exited.then(() => fail(reason ?? 'exited'));
  });
  // After the ready line the child's output keeps being drained (a full pipe would block it).
  void exited.then(() => log?.end());
  return { child, ready, stderrTail, exitReason: () => reason, exited };
}
