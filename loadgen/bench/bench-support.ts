/** Helpers the load generator's benchmarks and heavy tests share: its control API, its token, a process's end. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Starting a process and waiting for its ready line is the tests' (shared/testing/); the benches take it from here.
export { startWithReadyLine, type Started } from '../../shared/testing/ready-process.ts';

export const NODE = process.execPath;

/** Resolves when the process exits (at once if it already has), killing it after `graceMs`. */
export function exited(proc: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
  });
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** POSTs JSON; `token` is a load generator's control token (its POSTs answer 401 without it). */
export function postJson<T>(url: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return getJson<T>(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

/** The control token a load generator made for itself: the file its ready line names (`controlTokenFile`). */
export function controlTokenOf(info: { controlTokenFile?: string }): string {
  if (info.controlTokenFile === undefined) throw new Error('the ready line names no controlTokenFile (was a token given?)');
  return readFileSync(info.controlTokenFile, 'utf8').trim();
}
