/**
 * A child process driven by one-line commands on its stdin, answering one line on stdout each (the C pair's
 * control protocol: `stats` -> `stats {json}`). Answers are matched by their prefix, in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export class LineControlled {
  readonly proc: ChildProcess;
  readonly label: string;
  private readonly waiting: Array<{ prefix: string; resolve: (json: unknown) => void; reject: (e: Error) => void }> = [];
  private stderr = '';
  private exitedWith: string | undefined;

  private constructor(proc: ChildProcess, label: string) {
    this.proc = proc;
    this.label = label;
    proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    proc.stdin!.on('error', () => undefined); // a child that died: the exit handler rejects what waits
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const at = this.waiting.findIndex((w) => line === w.prefix || line.startsWith(`${w.prefix} `));
      if (at < 0) return;
      const [w] = this.waiting.splice(at, 1);
      const rest = line.slice(w!.prefix.length + 1);
      try {
        w!.resolve(rest === '' ? undefined : JSON.parse(rest));
      } catch (err) {
        w!.reject(new Error(`${label}: unreadable answer '${line}': ${(err as Error).message}`));
      }
    });
    proc.on('exit', (code, signal) => {
      this.exitedWith = String(signal ?? code);
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${label} exited (${this.exitedWith}) before answering '${w.prefix}': ${this.stderr.trim()}`));
    });
    proc.on('error', (err) => {
      // spawn failed (ENOENT, EACCES): no 'exit' follows
      if (proc.pid !== undefined) return;
      this.exitedWith = err.message;
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${label} did not start: ${err.message}`));
    });
  }

  /**
   * Spawns `cmd args` and waits for its `<readyPrefix> {json}` line (e.g. `comet-c-server ready`). When the line
   * does not come (timeout, exit, unreadable), the child is SIGKILLed and gone before this rejects: the caller never
   * held it, so nobody else would stop it.
   */
  static async start<T>(cmd: string, args: string[], readyPrefix: string, label: string, timeoutMs = 10_000): Promise<{ child: LineControlled; ready: T }> {
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const child = new LineControlled(proc, label);
    try {
      const ready = await child.expect<T>(readyPrefix, timeoutMs);
      return { child, ready };
    } catch (err) {
      if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGKILL');
        await gone;
      }
      throw err;
    }
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Sends `command`; resolves with the JSON after `answer` (default: the command's first word) on the answer line. */
  ask<T>(command: string, answer = command.split(' ')[0]!, timeoutMs = 10_000): Promise<T> {
    const p = this.expect<T>(answer, timeoutMs);
    this.proc.stdin!.write(`${command}\n`);
    return p;
  }

  private expect<T>(prefix: string, timeoutMs: number): Promise<T> {
    if (this.exitedWith !== undefined) return Promise.reject(new Error(`${this.label} has exited (${this.exitedWith}): ${this.stderr.trim()}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiting.findIndex((w) => w.resolve === done);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new Error(`${this.label}: no '${prefix}' answer in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (json: unknown) => {
        clearTimeout(timer);
        resolve(json as T);
      };
      this.waiting.push({ prefix, resolve: done, reject: (e) => (clearTimeout(timer), reject(e)) });
    });
  }

  /** Asks it to quit; SIGKILL after `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exitedWith !== undefined || this.proc.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin!.end('quit\n');
    const kill = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(kill);
  }
}
