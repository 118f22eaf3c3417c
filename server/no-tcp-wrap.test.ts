/**
 * Without Node's tcp_wrap binding (node --permission refuses process.binding): the raw TCP layer still imports and
 * says so with LAB_ERR_NO_TCP_WRAP when asked for a handle; `--engine net` serves streams and the API (supervisor and
 * workers both under the permission model, which workers inherit); `--engine raw` stops at once with that code and a
 * hint naming --engine net.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { openStream, request, startServerProcess } from './test-helpers.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RAW_TCP = fileURLToPath(new URL('../shared/raw-tcp/raw-tcp.ts', import.meta.url));
// what the server needs under the permission model: read everything, write its stripped worker code and its API socket
const PERMISSION = ['--permission', '--allow-fs-read=*', `--allow-fs-write=${REPO}.lab`, `--allow-fs-write=${tmpdir()}`, '--allow-child-process'];

test('under --permission the raw TCP layer imports, and a handle asked for is LAB_ERR_NO_TCP_WRAP', () => {
  const script = `
    const m = await import(${JSON.stringify(RAW_TCP)});
    let code = 'none';
    try { m.loadTcpBindings(); } catch (err) { code = err.code + ' | ' + err.hint; }
    let bind = 'none';
    try { m.bindRaw('127.0.0.1', 0, false); } catch (err) { bind = err.code; }
    console.log(JSON.stringify({ available: m.tcpBindingsAvailable(), code, bind }));`;
  const out = execFileSync(process.execPath, ['--permission', '--allow-fs-read=*', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const r = JSON.parse(out) as { available: boolean; code: string; bind: string };
  assert.equal(r.available, false);
  assert.match(r.code, /^LAB_ERR_NO_TCP_WRAP \| .*--engine net/);
  assert.equal(r.bind, 'LAB_ERR_NO_TCP_WRAP');
});

test('under --permission, --engine net serves streams, sends and /stats', async () => {
  const server = await startServerProcess(['--workers', '1', '--engine', 'net'], {}, { nodeArgs: PERMISSION });
  try {
    const s = await openStream(`${server.url}/sse/perm`);
    await s.waitFor('Welcome to comet-lab, perm');
    const sent = await request(`${server.url}/send/perm`, { method: 'POST', body: 'no tcp_wrap needed' });
    assert.equal(sent.status, 200, sent.body);
    await s.waitFor(' no tcp_wrap needed');
    s.close();
    const stats = JSON.parse((await request(`${server.url}/stats`)).body);
    assert.equal(stats.engine, 'net');
    assert.equal(stats.workersReady, 1);
  } finally {
    await server.stop();
  }
});

test('under --permission, --engine raw stops at once: LAB_ERR_NO_TCP_WRAP, exit 3, hint --engine net', () => {
  const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const r = spawnSync(process.execPath, [...PERMISSION, cli, '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--engine', 'raw'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /LAB_ERR_NO_TCP_WRAP: /);
  assert.match(r.stderr, /hint: .*--engine net/);
  assert.doesNotMatch(r.stdout, /ready/);
});
