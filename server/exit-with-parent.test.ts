/**
 * `--exit-with-parent`: when the process that started the server is SIGKILLed (no cleanup of its own), the server
 * and its workers end by themselves, and its API socket goes with them; whether the parent gave it a stdin pipe or
 * nothing at all. A server start removes the API sockets of servers that are gone, and only those.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readyPrefix } from '../shared/ready-line.ts';
import { startWithReadyLine } from '../shared/testing/ready-process.ts';
import { request, SERVER_POLL, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { alive } from '../shared/testing/processes.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

/**
 * A parent process (as the orchestrator would be) that starts the server with `stdin` ('pipe' or 'ignore') and
 * passes its ready line on; resolves with the parent and the server's ready fields.
 */
async function startParent(stdin: 'pipe' | 'ignore'): Promise<{ parent: ChildProcess; port: number; pid: number }> {
  const script = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, [${JSON.stringify(CLI)}, '--host', '127.0.0.1', '--port', '0', '--workers', '2', '--exit-with-parent'],
      { stdio: [${JSON.stringify(stdin)}, 'pipe', 'inherit'] });
    child.stdout.pipe(process.stdout);
    setInterval(() => {}, 1000);`;
  const { proc: parent, info } = await startWithReadyLine<{ port: number; pid: number }>(process.execPath, ['-e', script], readyPrefix('server'), 20_000, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return { parent, ...info };
}

/** Starts a parent, SIGKILLs it, and returns how long the server's processes outlived it. */
async function outlive(stdin: 'pipe' | 'ignore'): Promise<number> {
  const { parent, port, pid } = await startParent(stdin);
  const stats = JSON.parse((await request(`http://127.0.0.1:${port}/stats`)).body);
  const pids = [pid, ...stats.processes.filter((p: { role: string }) => p.role === 'worker').map((p: { pid: number }) => p.pid as number)];
  const socket = join(tmpdir(), `comet-lab-api-${pid}-${port}.sock`);
  assert.ok(existsSync(socket));
  const t0 = Date.now();
  parent.kill('SIGKILL');
  await waitFor(`server processes gone (stdin ${stdin})`, () => pids.every((p) => !alive(p)), 5000, SERVER_POLL);
  const ms = Date.now() - t0;
  assert.equal(existsSync(socket), false, `API socket removed (stdin ${stdin})`);
  return ms;
}

test('SIGKILL of the parent, with a stdin pipe or none: the server and its workers exit, its API socket is removed', { timeout: 30_000 }, async () => {
  const [pipe, none] = await Promise.all([outlive('pipe'), outlive('ignore')]);
  // EOF on the pipe is immediate; re-parenting is checked every 500 ms; stopping takes about 200 ms
  assert.ok(pipe < 1500, `gone ${pipe} ms after the parent (stdin pipe)`);
  assert.ok(none < 2500, `gone ${none} ms after the parent (no stdin)`);
});

test('a new server removes API sockets left by servers that are gone, and only those', { timeout: 30_000 }, async () => {
  const [dead, live] = await Promise.all([startServerProcess(['--workers', '1']), startServerProcess(['--workers', '1'])]);
  const socketOf = (s: { pid: number; port: number }) => join(tmpdir(), `comet-lab-api-${s.pid}-${s.port}.sock`);
  try {
    // a SIGKILLed server leaves its socket; its pid then runs nothing
    await dead.stop('SIGKILL');
    await waitFor('killed', () => !alive(dead.pid), 3000, SERVER_POLL);
    assert.ok(existsSync(socketOf(dead)), 'SIGKILL leaves the socket behind');
    const next = await startServerProcess(['--workers', '1']);
    assert.equal(existsSync(socketOf(dead)), false, "the dead server's socket was removed at start");
    assert.ok(existsSync(socketOf(live)), "a live server's socket is left alone");
    await next.stop();
    assert.ok(!readdirSync(tmpdir()).includes(`comet-lab-api-${next.pid}-${next.port}.sock`), 'removed at a clean stop');
  } finally {
    await live.stop();
  }
});
