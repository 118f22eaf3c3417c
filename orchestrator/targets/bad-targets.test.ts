/**
 * Bad input about the server under test, through the real CLI: each gives a clear message and a non-zero exit, and
 * nothing is left running (no process of the run, no cgroup, no report folder for a server that never started).
 * Also a threshold that fails: the run completes, the table says FAIL, and the exit code is 5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EXIT } from '../../shared/errors.ts';
import { main } from '../cli.ts';

const NODE = process.execPath;
const out = mkdtempSync(join(tmpdir(), 'comet-lab-bad-targets-'));
const scripts = mkdtempSync(join(tmpdir(), 'comet-lab-bad-servers-'));
test.after(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(scripts, { recursive: true, force: true });
});
const CG_RUNS = '/sys/fs/cgroup/memory/comet-lab';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = new PassThrough(), e = new PassThrough();
  let stdout = '', stderr = '';
  o.on('data', (d: Buffer) => (stdout += d.toString()));
  e.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await main(args, { stdout: o, stderr: e, env: {} });
  return { code, stdout, stderr };
}

/** This process's live children (zombies count as gone). */
function children(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(f[1]) === process.pid && f[0] !== 'Z';
    } catch {
      return false;
    }
  }).map(Number);
}

/** Run folders of this process's floods (`<pid>-...`) still in the lab's cgroup tree. */
const ourCgroups = () => (existsSync(CG_RUNS) ? readdirSync(CG_RUNS).filter((d) => d.startsWith(`${process.pid}-`)) : []);
const small = ['--n', '200', '--backend', 'local', '--rate', '500', '--hold', '2s', '--sample', '500ms', '--interval', '1s', '--no-live', '--no-metrics', '--out', out];

test('an unknown target, a bad cmd:, a url: that is not loopback and bad thresholds: every problem at once, exit 2, nothing started', async () => {
  const r = await cli(['flood', ...small, '--target', 'apache', '--threshold', 'server.kibPerConnection<<6', '--threshold', 'server.bogus<1']);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.stderr, /unknown target 'apache': use one of comet-lab, nchan, nginx-idle, mochiweb, cmd:/);
  assert.match(r.stderr, /--threshold 'server.kibPerConnection<<6' does not parse/);
  assert.match(r.stderr, /summary.json has no numeric field 'server.bogus' \(did you mean server\.[a-zA-Z]+/);
  const cmd = await cli(['flood', ...small, '--target', 'cmd:node srv.js']);
  assert.equal(cmd.code, EXIT.usage);
  assert.match(cmd.stderr, /put \{port\} where the port goes/);
  const remote = await cli(['flood', ...small, '--target', 'url:http://93.184.216.34/test/{i}']);
  assert.equal(remote.code, EXIT.usage);
  assert.match(remote.stderr, /only to loopback/);
  const pid = await cli(['flood', ...small, '--target', 'nchan', '--server-pid', '1']);
  assert.equal(pid.code, EXIT.usage);
  assert.match(pid.stderr, /--server-pid and --server-container name the process of a url: target/);
  assert.deepEqual(readdirSync(out), [], 'no report folder');
});

test('a url: that refuses connections: exit 2 before anything starts', async () => {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  const r = await cli(['flood', ...small, '--target', `url:http://127.0.0.1:${port}/test/{i}`]);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.stderr, new RegExp(`nothing accepts connections at 127\\.0\\.0\\.1:${port}`));
  assert.deepEqual(children(), []);
});

test('a cmd: that exits shows its last stderr lines; one that never listens times out; nothing is left either way', async () => {
  const failing = join(scripts, 'failing.mjs');
  writeFileSync(failing, "console.error('loading config from /etc/my-server.conf'); console.error('fatal: no such file'); process.exit(3);\n");
  const r = await cli(['flood', ...small, '--target', `cmd:${NODE} ${failing} --port {port}`]);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.stderr, /exited before listening on 127\.0\.0\.1:\d+ \(exit code 3\)/);
  assert.match(r.stderr, /loading config from \/etc\/my-server\.conf\n\s+fatal: no such file/);
  const silent = await cli(['flood', ...small, '--target-ready-timeout', '2s', '--target', `cmd:${NODE} -e "setInterval(() => {}, 1000)" {port}`]);
  assert.equal(silent.code, EXIT.usage);
  assert.match(silent.stderr, /was not listening on 127\.0\.0\.1:\d+ within 2 s/);
  assert.deepEqual(children(), []);
  assert.deepEqual(ourCgroups(), [], 'the run cgroups are removed');
  assert.deepEqual(readdirSync(out), [], 'no report of a server that never started');
});

test("a failing threshold: the run completes, the table says FAIL, summary.json holds the verdicts, exit code 5", { timeout: 60_000 }, async () => {
  const r = await cli(['flood', ...small, '--n', '500', '--target', 'nginx-idle', '--threshold', 'server.kibPerConnection<0.5', '--threshold', 'errors.total==0', '--threshold', 'sends.sustainedRate>1']);
  assert.equal(r.code, EXIT.thresholdFailed, r.stderr);
  assert.match(r.stdout, /\| `server\.kibPerConnection<0\.5` \| \d+\.\d+ \| \*\*FAIL\*\* \|/);
  assert.match(r.stdout, /\| `errors\.total==0` \| 0 \| pass \|/);
  assert.match(r.stdout, /\| `sends\.sustainedRate>1` \| not measured in this run \| \*\*FAIL\*\* \|/);
  assert.match(r.stdout, /2 of 3 threshold\(s\) FAILED \(exit code 5\)/);
  const dir = join(out, readdirSync(out).find((d) => d.includes('nginx-idle'))!);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.thresholds.map((t: { passed: boolean }) => t.passed), [false, true, false]);
  assert.equal(summary.run.verdict, 'thresholds-failed');
  assert.ok(summary.thresholds[0].actual > 3, 'nginx keeps more than 3 KiB per connection (the socket alone)');
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /## Thresholds/);
  // Regenerated from samples.csv and run.json, the report evaluates them again.
  const again = await cli(['report', '--regenerate', dir]);
  assert.equal(again.code, 0);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).thresholds, summary.thresholds);
});
