/**
 * Test helpers: start the real server CLI as a process on a free loopback port and wait for its ready line, read
 * streams with Node's http client, and speak raw bytes for the malformed-request cases.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { readyPrefix } from '../shared/ready-line.ts';
import { startWithReadyLine } from '../shared/testing/ready-process.ts';
import type { WaitOptions } from '../shared/testing/wait-for.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

export interface ServerProcess {
  host: string;
  port: number;
  pid: number;
  /** This server run's epoch (positions are `<epoch>-<seq>`). */
  epoch: string;
  workers: number;
  proc: ChildProcess;
  url: string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after 6 s; resolves with the exit code (or signal). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  /** Flags for the supervisor's Node (e.g. --permission ...). */
  nodeArgs?: string[];
  /** A soft and hard file limit for the server (its workers inherit it), set with the shell's ulimit. */
  nofile?: number;
  /** Replaces the default `--host 127.0.0.1` (e.g. `--host 127.0.0.2,127.0.0.3`). */
  host?: string;
}

/** Starts `server/cli.ts --host 127.0.0.1 --port 0 ...args` and waits (at most 20 s) for its ready line. */
export async function startServerProcess(args: string[], env: NodeJS.ProcessEnv = {}, options: StartOptions = {}): Promise<ServerProcess> {
  const argv = [...(options.nodeArgs ?? []), CLI, '--host', options.host ?? '127.0.0.1', '--port', '0', ...args];
  const [command, commandArgs] =
    options.nofile === undefined ? [process.execPath, argv] : ['sh', ['-c', `ulimit -n ${options.nofile} && exec "$@"`, 'sh', process.execPath, ...argv]];
  const { proc, info: ready, stderr } = await startWithReadyLine<{ host: string; port: number; pid: number; workers: number; epoch: string }>(
    command, commandArgs, readyPrefix('server'), 20_000, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    ...ready,
    proc,
    url: `http://${ready.host}:${ready.port}`,
    stderr,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const kill = setTimeout(() => proc.kill('SIGKILL'), 6000);
      return exited.finally(() => clearTimeout(kill));
    },
  };
}

/** A stream read with http.get: its response, the text so far, and a way to wait for text. */
export interface StreamReader {
  res: http.IncomingMessage;
  text(): string;
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  ended: Promise<'end' | 'aborted'>;
  close(): void;
}

export function openStream(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<StreamReader> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let text = '';
      const waiters: Array<() => void> = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        for (const w of [...waiters]) w();
      });
      const ended = new Promise<'end' | 'aborted'>((done) => {
        res.on('end', () => done('end'));
        res.on('aborted', () => done('aborted'));
        res.on('error', () => done('aborted'));
      });
      resolve({
        res,
        text: () => text,
        ended,
        close: () => req.destroy(),
        waitFor(pattern, timeoutMs = 5000) {
          const test = () => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
          if (test()) return Promise.resolve(text);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text)}`)), timeoutMs);
            const w = () => {
              if (!test()) return;
              clearTimeout(timer);
              waiters.splice(waiters.indexOf(w), 1);
              ok(text);
            };
            waiters.push(w);
          });
        },
      });
    });
    req.on('error', reject);
  });
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with a fresh connection; the whole body as text. */
export function request(url: string, options: http.RequestOptions & { body?: string | Buffer } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes and collects everything until the server closes (or `timeoutMs`). */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false, ms: Date.now() - t0 });
    }, timeoutMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, ms: Date.now() - t0 });
    });
    s.on('error', () => {});
    if (bytes.length > 0) s.write(bytes);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How the server's tests poll (shared/testing/wait-for.ts): every 25 ms, and an error counts as "not yet": a
 * connection the kernel hashed to a worker that just died is reset (SO_REUSEPORT); the next one reaches a live worker.
 */
export const SERVER_POLL: WaitOptions = { everyMs: 25, retryErrors: true };

/** A bare stream client: the body text as it arrives (chunk framing left in; the lines are what we check). */
export function rawStream(port: number, id: string): { text: () => string; socket: net.Socket; ready: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let resolveReady: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    text += d;
    if (text.includes('Welcome')) resolveReady();
  });
  socket.on('error', () => {});
  socket.write(`GET /test/${id} HTTP/1.1\r\nHost: t\r\n\r\n`);
  return { text: () => text, socket, ready };
}

/** The message bodies in a stream's text, in arrival order. */
export const messagesIn = (text: string) => [...text.matchAll(/@[\d.]+ ([^\n]*)\n/g)].map((m) => m[1]!);
