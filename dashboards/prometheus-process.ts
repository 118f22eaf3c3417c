/**
 * Runs a real Prometheus (Debian's `prometheus` binary) on a free loopback port with a throwaway TSDB folder, and
 * queries its HTTP API. The dashboard tests use it; so can anyone who wants the lab's Prometheus without Docker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LabError, EXIT } from '../shared/errors.ts';

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export interface PrometheusProcess {
  url: string; // http://127.0.0.1:PORT
  pid: number;
  /** Instant query at the current time; throws on a bad expression. */
  query(expr: string): Promise<PromSeries[]>;
  /** Range query over the last `seconds`, one point per `stepSeconds`. */
  queryRange(expr: string, seconds: number, stepSeconds?: number): Promise<PromSeries[]>;
  /** Active scrape targets with their health (up/down/unknown). */
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

/** A port the kernel just gave out and released; good enough for a child that binds it a moment later. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, host, resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Starts Prometheus with `configFile`; resolves when `/-/ready` answers 200 (within `timeoutMs`). */
export async function startPrometheus(configFile: string, options: { timeoutMs?: number; binary?: string } = {}): Promise<PrometheusProcess> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-prom-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    options.binary ?? 'prometheus',
    [`--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, `--storage.tsdb.path=${dataDir}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exited ${code ?? signal}`;
      resolve();
    }),
  );
  child.once('error', (err) => (exited = err.message));

  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new LabError('LAB_ERR_PROMETHEUS', `prometheus ${exited}: ${stderr.trim()}`, { exitCode: EXIT.preflight, hint: 'apt-get install prometheus' });
    }
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new LabError('LAB_ERR_PROMETHEUS', `prometheus not ready on ${url} after ${options.timeoutMs ?? 30_000} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const api = async (route: string, params: Record<string, string>): Promise<any> => {
    const res = await fetch(`${url}/api/v1/${route}?${new URLSearchParams(params)}`);
    const body: any = await res.json();
    if (body.status !== 'success') throw new Error(`prometheus ${route} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  };

  return {
    url,
    pid: child.pid!,
    async query(expr) {
      return (await api('query', { query: expr })).result;
    },
    async queryRange(expr, seconds, stepSeconds = 1) {
      const end = Date.now() / 1000;
      return (await api('query_range', { query: expr, start: String(end - seconds), end: String(end), step: String(stepSeconds) })).result;
    },
    async targets() {
      return (await api('targets', { state: 'active' })).activeTargets;
    },
    stop,
  };
}
