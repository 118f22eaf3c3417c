/**
 * The load generator where Node's raw TCP bindings are really unavailable: under `--permission`, process.binding
 * throws ERR_ACCESS_DENIED (nothing is faked). auto falls back to net.Socket with a coded warning and holds every
 * connection; `--io raw` is refused with a hint. On a load generator that read the binding at import, this process
 * died before its first line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { EXIT } from '../../shared/errors.ts';
import { startWithReadyLine } from '../../shared/testing/ready-process.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';
import { exited, getJson, NODE, postJson } from '../bench/bench-support.ts';
import { chunk, CHUNKED_HEAD, scriptedServer } from '../testing/scripted-server.ts';
import { ssEstablished } from '../testing/pool-harness.ts';
import { readyPrefix } from '../../shared/ready-line.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
/** Node's permission model: reading files is allowed (the sources), nothing else is granted. */
const PERMISSION = ['--permission', '--allow-fs-read=*'];
const TOKEN = 'test-token-without-raw-binding';

test('under --permission (no process.binding) auto uses net.Socket, says so with a code, and holds every connection', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('Welcome\n')));
  const lg = await startWithReadyLine<{ controlPort: number; io: string }>(
    NODE,
    [...PERMISSION, CLI, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '400', '--hold', '--duration', '60s'],
    readyPrefix('loadgen'),
    30_000,
    { env: { ...process.env, LOADGEN_CONTROL_TOKEN: TOKEN } },
  );
  try {
    assert.equal(lg.info.io, 'net');
    const base = `http://127.0.0.1:${lg.info.controlPort}`;
    await postJson(`${base}/ramp`, { target: 400, rate: 2000 }, TOKEN);
    let s!: LoadgenStatus;
    await waitFor('400 active', async () => (s = await getJson<LoadgenStatus>(`${base}/status`)).active === 400, 20_000, { everyMs: 100, describe: () => s });
    assert.equal(s.io, 'net');
    assert.equal(s.chunks, 400);
    assert.deepEqual(Object.values(s.errors).filter((v) => v !== 0), [], JSON.stringify(s.errors));
    assert.equal(server.sockets.size, 400, 'the server holds as many');
    assert.equal(ssEstablished(server.port), 400, 'ss counts as many');
    await postJson(`${base}/stop`, {}, TOKEN);
    assert.equal(await exited(lg.proc), 0);
    assert.match(lg.stderr(), /LAB_WARN_RAW_TCP_UNAVAILABLE: raw TCP bindings unavailable \(ERR_ACCESS_DENIED: process\.binding\('tcp_wrap'\)\); using --io net/);
    await waitFor('connections closed', () => ssEstablished(server.port) === 0, 5000, { everyMs: 50 });
  } finally {
    lg.proc.kill('SIGKILL');
    await server.close();
  }
});

test('under --permission, --io raw is refused at start with the code and a hint (exit 3)', { timeout: 30_000 }, () => {
  const r = spawnSync(NODE, [...PERMISSION, CLI, '--url', 'http://127.0.0.1:9/test/{i}', '--count', '5', '--io', 'raw', '--duration', '5s'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, EXIT.preflight, r.stderr);
  assert.match(r.stderr, /LAB_ERR_RAW_TCP_UNAVAILABLE: --io raw: .*ERR_ACCESS_DENIED/);
  assert.match(r.stderr, /use --io net/);
  assert.doesNotMatch(r.stdout, /ready/);
});
