/**
 * Where the server listens, and what it says when it cannot: a taken port is LAB_ERR_PORT_TAKEN naming the port and
 * exit 3 (never a ready line with another port), for every engine and whoever holds the port (a plain listener, or
 * another comet-lab server with SO_REUSEPORT); a list of addresses is listened on exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { openStream, request, startServerProcess } from './test-helpers.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

/** Runs the CLI to its end (at most 20 s): exit code, stdout, stderr. */
function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - t0 });
    });
  });
}

test('a port held by a plain listener is LAB_ERR_PORT_TAKEN naming it, exit 3, for the raw and net engines', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const engines = ['raw', 'net', 'http'];
    const runs = await Promise.all(engines.map((engine) => runCli(['--host', '127.0.0.1', '--port', String(port), '--workers', '1', '--engine', engine])));
    for (const [i, r] of runs.entries()) {
      const engine = engines[i]!;
      assert.equal(r.code, 3, `${engine}: ${r.err}`);
      assert.doesNotMatch(r.out, /ready/, `${engine}: no ready line`);
      assert.match(r.err, new RegExp(`LAB_ERR_PORT_TAKEN: cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is taken`), engine);
      assert.match(r.err, /hint: /);
      assert.doesNotMatch(r.err, /at .*\.ts:\d+/, 'no stack');
    }
  } finally {
    holder.close();
  }
});

test('a port held by another comet-lab server (SO_REUSEPORT) is refused too, not shared', async () => {
  const first = await startServerProcess(['--workers', '1']);
  try {
    const r = await runCli(['--host', '127.0.0.1', '--port', String(first.port), '--workers', '1']);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /LAB_ERR_PORT_TAKEN/);
    assert.equal((await request(`${first.url}/health`)).status, 200, 'the first server is untouched');
  } finally {
    await first.stop();
  }
});

test('--host with a list listens on exactly those addresses, the API too', async () => {
  const server = await startServerProcess(['--workers', '2'], {}, { host: '127.0.0.2,127.0.0.3' });
  try {
    const listening = execFileSync('ss', ['-Hltn', `sport = :${server.port}`], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim().split(/\s+/)[3]!);
    assert.deepEqual([...new Set(listening)].sort(), [`127.0.0.2:${server.port}`, `127.0.0.3:${server.port}`]);
    assert.equal(listening.length, 4, 'each of 2 workers on each of 2 addresses');
    for (const host of ['127.0.0.2', '127.0.0.3']) {
      const s = await openStream(`http://${host}:${server.port}/test/on-${host.replace(/\./g, '-')}`);
      await s.waitFor('Welcome');
      s.close();
      const stats = JSON.parse((await request(`http://${host}:${server.port}/stats`)).body);
      assert.deepEqual(stats.hosts, ['127.0.0.2', '127.0.0.3']);
    }
    await assert.rejects(request(`http://127.0.0.1:${server.port}/health`), /ECONNREFUSED/);
  } finally {
    await server.stop();
  }
});

test('bad addresses are reported at once, all of them, with exit 2', async () => {
  const [r, w] = await Promise.all([runCli(['--host', '127.0.0.1,localhost,,no.such', '--port', '0']), runCli(['--host', '0.0.0.0,127.0.0.1', '--port', '0'])]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--host .*localhost, no\.such: not an IP address/);
  assert.equal(w.code, 2);
  assert.match(w.err, /0\.0\.0\.0 already listens on every address/);
});

/** The addresses `ss` shows listening on `port`. */
function listeningOn(port: number): string[] {
  return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/)[3]!);
}

test('without --host the server listens on 127.0.0.1 only; beyond loopback it needs a token (LAB_ERR_OPEN_API, exit 2)', { timeout: 30_000 }, async () => {
  const noToken: NodeJS.ProcessEnv = { ...process.env, COMET_ADMIN_TOKEN: '', COMET_ADMIN_TOKEN_FILE: '', COMET_HOST: '' };
  // the default, read back from the kernel: nothing on 0.0.0.0 or another address
  const proc = spawn(process.execPath, [CLI, '--port', '0', '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'], env: noToken });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out);
      });
      proc.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const port = JSON.parse(line.slice(line.indexOf('{'))).port as number;
    assert.deepEqual([...new Set(listeningOn(port))], [`127.0.0.1:${port}`]);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  for (const host of ['0.0.0.0', '::', '127.0.0.1,10.200.0.1']) {
    const r = await runCli(['--host', host, '--port', '0', '--workers', '1'], noToken);
    assert.equal(r.code, 2, `${host}: ${r.err}`);
    assert.equal(r.out, '', 'no ready line');
    assert.match(r.err, /LAB_ERR_OPEN_API: --host .* listens beyond loopback and no admin token is set/);
    assert.match(r.err, /hint: set COMET_ADMIN_TOKEN/);
  }
  // with a token it starts on every address, and the sends need the token
  const server = await startServerProcess(['--workers', '1'], { COMET_ADMIN_TOKEN: 'open-t0ken' }, { host: '0.0.0.0' });
  try {
    assert.deepEqual([...new Set(listeningOn(server.port))], [`0.0.0.0:${server.port}`]);
    assert.equal((await request(`http://127.0.0.1:${server.port}/send/x`, { method: 'POST', body: 'a' })).status, 401);
  } finally {
    await server.stop();
  }
});
