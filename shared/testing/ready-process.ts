/**
 * Tests and benches start a lab process and wait for its ready line (shared/ready-line.ts) with this, never a
 * fixed sleep: it resolves with the line's JSON, and rejects (killing the process on a timeout) when the process
 * exits first or stays silent, with what it wrote to stderr.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseReadyLine } from '../ready-line.ts';

export interface Started<T> {
  proc: ChildProcess;
  info: T;
  /** Every stdout line so far (the ready line included). */
  lines: string[];
  /** Everything written to stderr so far (empty when stderr is not a pipe). */
  stderr(): string;
}

/**
 * Spawns `cmd args` (stdio all pipes unless `options.stdio` says) and resolves with the JSON after `prefix` on the
 * first stdout line that starts with it (`readyPrefix('loadgen')`, `'hold-server ready '`). Its output keeps being
 * read afterwards, so a full pipe never blocks it.
 */
export function startWithReadyLine<T>(cmd: string, args: string[], prefix: string, timeoutMs = 30_000, options: SpawnOptions = {}): Promise<Started<T>> {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  const lines: string[] = [];
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.COMET_TEST_VERBOSE) process.stderr.write(d);
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: ${why}\n${stderr}`));
    };
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(`no "${prefix}" line in ${timeoutMs} ms`);
    }, timeoutMs);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      lines.push(line);
      let info: T | undefined;
      try {
        info = parseReadyLine<T>(line, prefix);
      } catch (err) {
        proc.kill('SIGKILL');
        return fail((err as Error).message);
      }
      if (info === undefined) return;
      clearTimeout(timer);
      resolve({ proc, info, lines, stderr: () => stderr });
    });
    proc.on('exit', (code, signal) => fail(`exited with ${signal ?? code} before ready (no "${prefix.trim()}" line)`));
    proc.on('error', (err) => fail(`could not start: ${err.message}`));
  });
}
