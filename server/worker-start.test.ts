/**
 * A worker that dies before it is ready is started again after a growing pause (200, 400, 800, 1600 ms) and, after 5
 * deaths in a row, the server gives up: LAB_ERR_WORKER_START on stderr, exit 1. The workers here
 * load a preload (COMET_WORKER_NODE_FLAGS=--import) that exits while a marker file exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, SERVER_POLL, startServerProcess } from './test-helpers.ts';
import { waitFor } from '../shared/testing/wait-for.ts';

function preload(): { dir: string; flags: string; marker: string } {
  const dir = mkdtempSync(join(tmpdir(), 'comet-lab-worker-start-'));
  const marker = join(dir, 'die');
  writeFileSync(join(dir, 'die-if-marked.mjs'), `import { existsSync } from 'node:fs';\nif (existsSync(${JSON.stringify(marker)})) process.exit(7);\n`);
  return { dir, flags: `--import=${join(dir, 'die-if-marked.mjs')}`, marker };
}

test('a replacement that keeps dying at start: backed off, then the server exits 1 with LAB_ERR_WORKER_START', { timeout: 30_000 }, async () => {
  const p = preload();
  try {
    const server = await startServerProcess(['--workers', '1'], { COMET_WORKER_NODE_FLAGS: p.flags });
    const stats = JSON.parse((await request(`${server.url}/stats`)).body);
    const worker = stats.processes.find((x: { role: string }) => x.role === 'worker').pid as number;
    writeFileSync(p.marker, '');
    const t0 = Date.now();
    process.kill(worker, 'SIGKILL');
    let code: number | string | undefined;
    server.proc.once('exit', (c, signal) => (code = c ?? signal ?? -1));
    try {
      await waitFor('the server giving up by itself', () => code !== undefined, 15_000, SERVER_POLL);
    } finally {
      await server.stop('SIGKILL');
    }
    const ms = Date.now() - t0;
    assert.equal(code, 1, server.stderr());
    assert.match(server.stderr(), /LAB_ERR_WORKER_START: worker 0 died 5 times in a row before it was ready \(last: exit code 7\); giving up/);
    const attempts = server.stderr().match(/exited: exit code 7/g)?.length ?? 0;
    assert.equal(attempts, 5, 'five starts after the kill, then no more');
    // "replacing it" only where a restart followed: after the kill and the first four failed starts, not the last
    assert.match(server.stderr(), /exited: SIGKILL; replacing it\n/);
    assert.equal(server.stderr().match(/exited: exit code 7; replacing it\n/g)?.length ?? 0, 4, server.stderr());
    assert.match(server.stderr(), /exited: exit code 7\n[^]*LAB_ERR_WORKER_START/);
    // pauses of 200, 200, 400, 800 and 1600 ms before the five starts: not one every 200 ms forever
    assert.ok(ms >= 3000 && ms < 10_000, `gave up after ${ms} ms`);
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
});

test('workers that die at start make the server fail to start: exit 1, LAB_ERR_WORKER_START, no ready line', { timeout: 30_000 }, async () => {
  const p = preload();
  writeFileSync(p.marker, '');
  try {
    const err = await startServerProcess(['--workers', '1'], { COMET_WORKER_NODE_FLAGS: p.flags }).then(
      () => assert.fail('the server must not start'),
      (e: Error) => e.message,
    );
    assert.match(err, /exited with 1 before ready/);
    assert.match(err, /LAB_ERR_WORKER_START: worker \d died 5 times in a row/);
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
});
