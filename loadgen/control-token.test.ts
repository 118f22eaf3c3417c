/**
 * The control API is a control surface: POSTs need the token, GETs stay open, and it listens on 127.0.0.1. The
 * token comes from LOADGEN_CONTROL_TOKEN, a --control-token-file, or a file the load generator writes for itself
 * (0600, named in the ready line, removed at the end). A real load generator and real HTTP requests throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { EXIT } from '../shared/errors.ts';
import { startWithReadyLine } from '../shared/testing/ready-process.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from './bench/bench-support.ts';
import { main } from './cli.ts';
import { chunk, CHUNKED_HEAD, scriptedServer } from './testing/scripted-server.ts';
import { readyPrefix } from '../shared/ready-line.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

interface Ready {
  controlPort: number;
  control: string;
  controlTokenFile?: string;
}

const post = (url: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"target": 10}' });

/** Listening sockets of `pid` (ss -p): address:port. */
function listening(pid: number): string[] {
  const out = execFileSync('ss', ['-Htlnp'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => l.trim().split(/\s+/)[3]!);
}

test('POSTs without the token, or with another, are refused (401) and do nothing; GETs stay open; the port is on 127.0.0.1', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hi\n')));
  const lg = await startWithReadyLine<Ready>(NODE, [CLI, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '10', '--hold', '--duration', '60s'], readyPrefix('loadgen'));
  try {
    const base = lg.info.control;
    assert.equal(base, `http://127.0.0.1:${lg.info.controlPort}`);
    assert.deepEqual(listening(lg.proc.pid!), [`127.0.0.1:${lg.info.controlPort}`], 'only the control port, on loopback');
    const file = lg.info.controlTokenFile!;
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the generated token is readable by its user only');
    for (const [path, headers] of [
      ['/ramp', {}],
      ['/ramp', { authorization: 'Bearer not-the-token-at-all-1234' }],
      ['/ramp', { authorization: controlTokenOf(lg.info) }], // no "Bearer"
      ['/stop', {}],
      ['/latency/reset', {}],
    ] as Array<[string, Record<string, string>]>) {
      const res = await post(`${base}${path}`, headers);
      assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(((await res.json()) as { error: string }).error, 'LAB_ERR_UNAUTHORIZED');
    }
    const s = await getJson<LoadgenStatus>(`${base}/status`);
    assert.equal(s.target, 0, 'a refused ramp opened nothing');
    assert.equal(server.sockets.size, 0);
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
    assert.equal((await fetch(`${base}/health`)).status, 200);
    // With the token from the file the ready line names, the same POSTs work.
    const token = controlTokenOf(lg.info);
    assert.deepEqual(await postJson(`${base}/ramp`, { target: 10, rate: 0 }, token), { ok: true, target: 10, rate: 0 });
    await postJson(`${base}/stop`, {}, token);
    assert.equal(await exited(lg.proc), 0);
    assert.equal(existsSync(file), false, 'the generated token file is removed at the end');
  } finally {
    lg.proc.kill('SIGKILL');
    await server.close();
  }
});

test('the token from LOADGEN_CONTROL_TOKEN or from --control-token-file; a short one is refused at start (exit 2)', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hi\n')));
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-token-'));
  try {
    const fromEnv = 'env-token-0123456789abcdef';
    const a = await startWithReadyLine<Ready>(NODE, [CLI, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '5', '--hold', '--duration', '60s'], readyPrefix('loadgen'), 30_000, {
      env: { ...process.env, LOADGEN_CONTROL_TOKEN: fromEnv },
    });
    assert.equal(a.info.controlTokenFile, undefined, 'a given token is not written anywhere');
    assert.equal((await post(`${a.info.control}/ramp`, { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    assert.equal((await post(`${a.info.control}/ramp`, { authorization: `Bearer ${fromEnv}` })).status, 200);
    await postJson(`${a.info.control}/stop`, {}, fromEnv);
    assert.equal(await exited(a.proc), 0);

    const file = join(dir, 'token');
    writeFileSync(file, 'file-token-0123456789abcdef\n');
    const b = await startWithReadyLine<Ready>(NODE, [CLI, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '5', '--hold', '--control-token-file', file, '--duration', '60s'], readyPrefix('loadgen'), 30_000, {
      env: { ...process.env, LOADGEN_CONTROL_TOKEN: fromEnv },
    });
    assert.equal((await post(`${b.info.control}/ramp`, { authorization: `Bearer ${fromEnv}` })).status, 401, 'the flag wins over the environment');
    await postJson(`${b.info.control}/stop`, {}, 'file-token-0123456789abcdef');
    assert.equal(await exited(b.proc), 0);

    let err = '';
    const io = { stdout: () => {}, stderr: (l: string) => (err += `${l}\n`), env: { LOADGEN_CONTROL_TOKEN: 'short' } };
    assert.equal(await main(['--url', 'http://127.0.0.1:1/{i}', '--count', '5', '--hold', '--control-token-file', join(dir, 'missing'), '--rate', 'x'], io), EXIT.usage);
    assert.match(err, /--control-token-file: cannot read/);
    assert.match(err, /--rate/, 'reported with the other problems at once');
    err = '';
    assert.equal(await main(['--url', 'http://127.0.0.1:1/{i}', '--count', '5', '--hold'], io), EXIT.usage);
    assert.match(err, /LOADGEN_CONTROL_TOKEN: the token must be at least 16 characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});
