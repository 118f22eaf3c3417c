import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { EXIT } from '../shared/errors.ts';
import { startWithReadyLine } from '../shared/testing/ready-process.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from './bench/bench-support.ts';
import { main } from './cli.ts';
import { buildConfig, DEFAULT_RATE } from './config.ts';
import { parseSourceAddresses } from './source-addresses.ts';
import { chunk, CHUNKED_HEAD, scriptedServer } from './testing/scripted-server.ts';
import { messageChunk } from '../shared/message-format.ts';
import { nowMs } from '../shared/clock.ts';
import { readyPrefix } from '../shared/ready-line.ts';
import { alive } from '../shared/testing/processes.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (l) => (out += `${l}\n`), stderr: (l) => (err += `${l}\n`), env: {} });
  return { code, out, err };
}

test('bad flags: a usage error listing every problem at once, exit 2, nothing started', { timeout: 60_000 }, async () => {
  const r = await runCli(['--url', 'ftp://x/{i}', '--count', 'ten', '--rate', 'fast', '--transport', 'pigeon', '--source-ips', '300.1.1.1,127.0.0.9-127.0.0.2', '--duration', '0', '--interval', '5parsecs']);
  assert.equal(r.code, EXIT.usage);
  for (const m of ['--url', '--count', '--rate', '--transport', '--source-ips: "300.1.1.1"', '--source-ips: "127.0.0.9-127.0.0.2"', '--duration', '--rate and --interval']) {
    assert.ok(r.err.includes(m), `${m} missing from:\n${r.err}`);
  }
  assert.equal(r.out, '');
  for (const args of [['--bogus'], ['--url'], [], ['--url', 'http://127.0.0.1:1/{i}'], ['--url', 'http://127.0.0.1:1/', '--count', '5', 'extra'], ['--urls-file', '/nonexistent/urls.txt']]) {
    assert.equal((await runCli(args)).code, EXIT.usage, args.join(' '));
  }
  assert.equal((await runCli(['--help'])).code, EXIT.ok);
});

test('more connections per process than the file limit: refused for a fixed --procs, split by auto', () => {
  const fixed = buildConfig({ url: 'http://127.0.0.1:1/{i}', count: '25000', procs: '1' }, 19800);
  assert.match(fixed.problems.join('\n'), /exceed the open-file limit/);
  const auto = buildConfig({ url: 'http://127.0.0.1:1/{i}', count: '25000' }, 19800);
  assert.equal(auto.config?.procs, 2);
  const env = buildConfig({ url: 'http://127.0.0.1:1/{i}', count: '10', interval: '100ms' });
  assert.equal(env.config?.rate, 10);
});

test('ws:// URLs choose the WebSocket transport; another transport with them is a usage problem', () => {
  assert.equal(buildConfig({ url: 'ws://127.0.0.1:1/ws/{i}', count: '5' }).config?.transport, 'ws');
  assert.equal(buildConfig({ url: 'http://127.0.0.1:1/ws/{i}', count: '5', transport: 'ws' }).config?.transport, 'ws');
  assert.match(buildConfig({ url: 'ws://127.0.0.1:1/ws/{i}', count: '5', transport: 'sse' }).problems.join('\n'), /ws:\/\/ URLs are WebSocket/);
  assert.match(buildConfig({ url: 'wss://127.0.0.1:1/ws/{i}', count: '5' }).problems.join('\n'), /scheme wss is not supported/);
});

test('source addresses: lists, ranges and CIDRs', () => {
  assert.deepEqual(parseSourceAddresses('127.0.0.2, 127.0.0.3').addresses, ['127.0.0.2', '127.0.0.3']);
  assert.equal(parseSourceAddresses('127.0.0.2-127.0.0.40').addresses.length, 39);
  assert.deepEqual(parseSourceAddresses('127.0.1.0/30').addresses, ['127.0.1.1', '127.0.1.2']);
  assert.equal(parseSourceAddresses('127.0.0.0/8').problems.length, 1, 'too many');
  assert.equal(parseSourceAddresses('127.0.0.7/32,127.0.0.7').addresses.length, 1);
});

test('an address not on this host is refused at start (exit 3) with a clear message', { timeout: 60_000 }, async () => {
  const r = await runCli(['--url', 'http://127.0.0.1:1/{i}', '--count', '5', '--source-ips', '127.0.0.2,192.0.2.77', '--hold', '--duration', '5']);
  assert.equal(r.code, EXIT.preflight);
  assert.match(r.err, /LAB_ERR_SOURCE_ADDRESS: --source-ips: not an address of this host: 192\.0\.2\.77 \(EADDRNOTAVAIL\)/);
});

test('a URL file with blank and bad lines: counted and reported; the good lines are used', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hi\n')));
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-urls-'));
  try {
    const file = join(dir, 'urls.txt');
    writeFileSync(file, `http://127.0.0.1:${server.port}/a\n\n# comment\nnot a url\nhttps://127.0.0.1/secure\n   \nhttp://127.0.0.1:${server.port}/b\n`);
    const r = await runCli(['--urls-file', file, '--rate', '1000', '--hold-for', '300ms', '--report-every', '10s']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.err, /2 URLs, 2 blank lines skipped, 2 bad lines skipped/);
    assert.match(r.err, /line 4: not a URL: not a url/);
    assert.match(r.err, /line 5: scheme https is not supported/);
    const final = JSON.parse(/comet-lab loadgen final (.*)/.exec(r.out)![1]!) as LoadgenStatus;
    assert.equal(final.target, 2);
    assert.equal(final.chunks, 2);
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'nope\n\n');
    const none = await runCli(['--urls-file', bad]);
    assert.equal(none.code, EXIT.usage);
    assert.match(none.err, /has no usable URL \(1 bad, 1 blank lines\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});

test('driven as the orchestrator does: ready line, POST /ramp, GET /status, latency reset, metrics, POST /stop exits 0', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => {
    s.write(CHUNKED_HEAD + chunk('Welcome\n'));
    const t = setInterval(() => s.write(chunk(messageChunk(nowMs(), 'tick'))), 50);
    s.on('close', () => clearInterval(t));
  });
  const lg = await startWithReadyLine<{ controlPort: number; pid: number; procs: number; controlTokenFile: string }>(
    NODE,
    [CLI, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--start', '100', '--count', '60', '--procs', '2', '--source-ips', '127.0.0.2-127.0.0.3', '--control-port', '0', '--duration', '60', '--rate', '0'],
    readyPrefix('loadgen'),
  );
  try {
    assert.equal(lg.info.procs, 2);
    const base = `http://127.0.0.1:${lg.info.controlPort}`;
    const token = controlTokenOf(lg.info);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await getJson<LoadgenStatus>(`${base}/status`)).target, 0, 'rate 0: waits to be told');
    assert.deepEqual(await postJson(`${base}/ramp`, { target: 40, rate: 400 }, token), { ok: true, target: 40, rate: 400 });
    let s!: LoadgenStatus;
    await waitFor('40 active', async () => (s = await getJson<LoadgenStatus>(`${base}/status`)).active === 40, 10_000, { everyMs: 100 });
    assert.equal(s.procs, 2);
    assert.equal(server.sockets.size, 40);
    // Each child bound its own source address; the paths carry indexes from --start.
    const peers = new Set([...server.sockets].map((k) => k.remoteAddress));
    assert.deepEqual([...peers].sort(), ['127.0.0.2', '127.0.0.3']);
    await postJson(`${base}/latency/reset`, {}, token);
    const reset = await getJson<LoadgenStatus>(`${base}/status`);
    assert.ok(reset.latencyMs.count < s.latencyMs.count || s.latencyMs.count === 0);
    await waitFor('messages after the reset', async () => (await getJson<LoadgenStatus>(`${base}/status`)).latencyMs.count > 40, 5000, { everyMs: 100 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^loadgen_active_connections\{transport="chunked"\} 40$/m);
    assert.match(metrics, /^loadgen_errors_total\{cause="refused"\} 0$/m);
    assert.match(metrics, /^loadgen_delivery_latency_seconds\{quantile="0.99"\} [\d.e-]+$/m);
    const bad = await fetch(`${base}/ramp`, { method: 'POST', body: '{"target": "many"}', headers: { authorization: `Bearer ${token}` } });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    const final = await postJson<LoadgenStatus & { activeAtStop: number }>(`${base}/stop`, {}, token);
    assert.equal(final.active, 0);
    assert.equal(final.activeAtStop, 40);
    assert.ok(final.chunks >= s.chunks);
    assert.equal(await exited(lg.proc), 0);
    assert.ok(lg.lines.some((l) => l.startsWith('final (stop-request): {Active, Closed, Chunks}')));
  } finally {
    lg.proc.kill('SIGKILL');
    await server.close();
  }
});

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('SIGINT stops at once with final totals (exit 130); a SIGKILLed parent leaves no child behind', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('hi\n')));
  const args = [CLI, '--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '20', '--procs', '2', '--rate', '1000', '--duration', '60'];
  try {
    const a = await startWithReadyLine<{ pid: number }>(NODE, args, readyPrefix('loadgen'));
    await waitFor('20 connections', () => server.sockets.size === 20, 5000, { everyMs: 50 });
    a.proc.kill('SIGINT');
    assert.equal(await exited(a.proc), EXIT.interrupted);
    assert.ok(a.lines.some((l) => l.startsWith('final (signal):')));
    await waitFor('connections closed', () => server.sockets.size === 0, 5000, { everyMs: 50 });

    const b = await startWithReadyLine<{ pid: number }>(NODE, args, readyPrefix('loadgen'));
    const kids = childrenOf(b.info.pid);
    assert.equal(kids.length, 2);
    b.proc.kill('SIGKILL');
    await exited(b.proc);
    await waitFor('children gone', () => kids.every((k) => !alive(k)), 5000, { everyMs: 50 });
    await waitFor('connections closed', () => server.sockets.size === 0, 5000, { everyMs: 50 });
  } finally {
    await server.close();
  }
});

test('standalone at the seed pace: --interval opens one by one, prints the triple, stops by itself after --duration', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('Welcome\n')));
  try {
    const started = Date.now();
    const r = await runCli(['--url', `http://127.0.0.1:${server.port}/test/{i}`, '--count', '8', '--interval', '100ms', '--duration', '1.5', '--report-every', '500ms']);
    const took = Date.now() - started;
    assert.equal(r.code, EXIT.ok, r.err);
    assert.ok(took >= 1400 && took < 5000, `${took} ms`);
    const reports = r.out.split('\n').filter((l) => l.startsWith('{Active, Closed, Chunks} = {'));
    assert.ok(reports.length >= 2, r.out);
    // At 10 per second, after 0.5 s about 5 are open, all 8 after 0.8 s.
    const first = Number(/= \{(\d+),/.exec(reports[0]!)![1]);
    assert.ok(first >= 3 && first <= 7, reports[0]);
    assert.match(r.out, /final \(duration\): \{Active, Closed, Chunks\} = \{0, 0, 8\}  held at stop=8 /);
  } finally {
    await server.close();
  }
});

test('a count with no pace opens its connections at the default pace, said in the ready line; only --hold waits, and says where to ramp it', { timeout: 60_000 }, async () => {
  const server = await scriptedServer((s) => s.write(CHUNKED_HEAD + chunk('Welcome\n')));
  try {
    const url = `http://127.0.0.1:${server.port}/test/{i}`;
    const a = await startWithReadyLine<{ control: string | null; rate: number; rateFrom: string; pacing: string; waitingFor?: string }>(
      NODE, [CLI, '--url', url, '--count', '300', '--duration', '30s'], readyPrefix('loadgen'));
    assert.equal(a.info.rate, DEFAULT_RATE);
    assert.equal(a.info.rateFrom, 'default');
    assert.equal(a.info.pacing, 'closed-loop');
    assert.equal(a.info.control, null, 'nothing to drive: no control API is opened');
    assert.equal(a.info.waitingFor, undefined);
    await waitFor('300 connections without any POST /ramp', () => server.sockets.size === 300, 10_000, { everyMs: 50 });
    a.proc.kill('SIGINT');
    assert.equal(await exited(a.proc), EXIT.interrupted);
    await waitFor('closed', () => server.sockets.size === 0, 5000, { everyMs: 50 });

    const b = await startWithReadyLine<{ control: string; controlPort: number; rate: number; rateFrom: string; waitingFor?: string }>(
      NODE, [CLI, '--url', url, '--count', '300', '--hold', '--duration', '30s'], readyPrefix('loadgen'));
    assert.equal(b.info.rate, 0);
    assert.equal(b.info.rateFrom, '--hold');
    assert.equal(b.info.waitingFor, 'POST /ramp');
    assert.equal(b.info.control, `http://127.0.0.1:${b.info.controlPort}`, '--hold opens the control API on a free port and names it');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(server.sockets.size, 0, '--hold opens nothing by itself');
    assert.equal((await getJson<LoadgenStatus>(`${b.info.control}/status`)).target, 0);
    b.proc.kill('SIGINT');
    assert.equal(await exited(b.proc), EXIT.interrupted);
  } finally {
    await server.close();
  }
});
