/**
 * `compare` for real: nchan, nginx-idle and mochiweb, 2,000 connections each, one after the other with one plan. The
 * comparison's figures must agree with what the test reads itself during each hold (the server's cgroup files and
 * `ss`) within 10%; the report's three files are there, its chart has a curve per server; `report --compare` on two
 * of the run folders gives the same rows; a bad target stops the comparison before anything starts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { resolveFloodConfig } from '../config/flood-config.ts';
import type { LocalBackend } from '../backends/local/local-backend.ts';
import { parseMemoryStat } from '../backends/probes/memory-stat.ts';
import type { RunSample } from '../run/sample.ts';
import { main } from '../cli.ts';
import { makeTarget } from '../targets/targets.ts';
import { compare, compareBackend } from './compare.ts';
import { renderCompareMd } from './compare-md.ts';
import { ratiosToBest, type CompareRow } from './compare-rows.ts';
import type { CompareReport } from './compare-report.ts';

const N = 2000;
const TARGETS = ['nchan', 'nginx-idle', 'mochiweb'];
const out = mkdtempSync(join(tmpdir(), 'comet-lab-compare-'));
after(() => rmSync(out, { recursive: true, force: true }));
const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} as NodeJS.ProcessEnv });

const workingSet = (dir: string) =>
  Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'latin1')) - (parseMemoryStat(readFileSync(join(dir, 'memory.stat'), 'latin1')).get('total_inactive_file') ?? 0);
const ssCount = (port: number) =>
  execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8', maxBuffer: 2 ** 26 })
    .split('\n')
    .filter((l) => l.trim().split(/\s+/).at(-1)?.startsWith('127.0.1.')).length;

/** The test's own readings per target: the cgroup before the ramp, and cgroup + ss over the hold. */
interface Own {
  base?: number;
  hold: Array<{ bytes: number; conns: number }>;
}

test(`compare ${TARGETS.join(', ')}: one report whose figures agree with the cgroup files and ss read by the test`, { timeout: 240_000 }, async () => {
  const own = new Map<string, Own>();
  const config = resolveFloodConfig({
    n: String(N), backend: 'local', rate: '1000', holdSeconds: '4s', intervalSeconds: '1s', sampleSeconds: '500ms', out, stallSeconds: '15s',
    livePort: false, metricsPort: false, thresholds: ['errors.total==0'],
  });
  const result = await compare(config, TARGETS, io(), {
    settleSeconds: 10,
    flood: (target) => ({
      onRun(run) {
        const mine: Own = { hold: [] };
        own.set(target, mine);
        const cgroup = () => join('/sys/fs/cgroup/memory/comet-lab', (run.backend as LocalBackend).options.runId, 'server');
        run.on('phase', (p: { name: string }) => {
          if (p.name === 'ramp') mine.base = workingSet(cgroup());
        });
        run.on('sample', (s: RunSample) => {
          if (s.phase !== 'hold') return;
          const port = run.backend.components().find((c) => c.role === 'server')!.listen!.port;
          mine.hold.push({ bytes: workingSet(cgroup()), conns: ssCount(port) });
        });
      },
    }),
  });
  assert.equal(result.exitCode, 0);
  for (const f of ['compare.md', 'compare.html', 'compare.json']) assert.ok(existsSync(join(result.dir, f)), f);
  assert.match(result.dir, /-compare-2000$/);
  const report = JSON.parse(readFileSync(join(result.dir, 'compare.json'), 'utf8')) as CompareReport;
  assert.deepEqual(report.rows.map((r) => r.label), TARGETS);

  for (const row of report.rows) {
    const mine = own.get(row.target)!;
    assert.ok(mine.hold.length >= 4 && mine.base !== undefined, `${row.label}: the test read the hold: ${JSON.stringify(mine)}`);
    const bytes = mine.hold.reduce((a, h) => a + h.bytes, 0) / mine.hold.length;
    const conns = mine.hold.reduce((a, h) => a + h.conns, 0) / mine.hold.length;
    const within = (lab: number | undefined, test: number, what: string) =>
      assert.ok(lab !== undefined && Math.abs(lab - test) <= 0.1 * test, `${row.label} ${what}: compare ${lab} vs test ${test}`);
    within(row.reachedServer, Math.max(...mine.hold.map((h) => h.conns)), 'connections held (ss)');
    within(row.kibTotalPerConnection, bytes / conns / 1024, 'KiB per connection, total/N');
    within(row.userKibPerConnection! + row.kernelKibPerConnection!, (bytes - mine.base!) / conns / 1024, 'KiB per connection above base');
    assert.equal(row.errorsTotal, 0);
    assert.equal(row.thresholdsFailed, 0);
  }
  // nginx's idle keep-alive floor is the cheapest of the three, per connection.
  const floor = report.rows.find((r) => r.label === 'nginx-idle')!;
  assert.ok(report.rows.every((r) => r.kibPerConnection! >= floor.kibPerConnection!), 'nginx-idle is the floor');
  assert.equal(report.ratios[1]!.kibPerConnection, 1);
  assert.ok(report.ratios[0]!.kibPerConnection! > 1.5, 'nchan costs well over the floor');

  const md = readFileSync(join(result.dir, 'compare.md'), 'utf8');
  assert.match(md, /\| \*\*nginx-idle\*\* \| 2,000 of 2,000 \| \*\*\d+\.\d\d\*\* \(best\)/);
  // Each row's memory figure says how it was measured, as the run's own summary.json headlines it.
  for (const row of report.rows) {
    const doc = JSON.parse(readFileSync(join(row.dir, 'summary.json'), 'utf8')) as { server: { perConnectionMethod: string; kibPerConnection: number } };
    assert.equal(row.kibMethod, doc.server.perConnectionMethod, row.label);
    assert.ok(Math.abs(row.kibPerConnection! - doc.server.kibPerConnection) < 0.01, `${row.label}: ${row.kibPerConnection} vs ${doc.server.kibPerConnection}`);
    const cell = md.split('\n').find((l) => l.startsWith(`| **${row.label}** |`))!.split(' | ')[2]!;
    assert.match(cell, { 'ramp-slope': /ramp slope, R² \d\.\d\d$/, 'growth-over-base': /growth over base/, 'total-over-n': /total\/N/ }[row.kibMethod!]);
  }
  assert.match(md, /\| \*\*mochiweb\*\* .*\| \*\*\d+\.\d%\*\* \(best\)/, 'mochiweb has a heartbeat: chunks delivered %');
  assert.match(md, /no heartbeat/);
  const html = readFileSync(join(result.dir, 'compare.html'), 'utf8');
  const specs = JSON.parse(/<script id="lab-xy" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!) as Array<{ series: Array<{ label: string; style: string; values: Array<number | null> }> }>;
  const curves = specs[0]!.series.filter((s) => s.style === 'points');
  assert.deepEqual(curves.map((s) => s.label), TARGETS);
  for (const c of curves) assert.ok(c.values.filter((v) => v !== null).length >= 3, 'each curve has its points (distinct connection counts)');
  assert.match(html, /<table>/);

  // report --compare on two of the folders: the same rows, in a new comparison folder.
  const runDirs = report.rows.map((r) => r.dir);
  const o = new PassThrough();
  let said = '';
  o.on('data', (d: Buffer) => (said += d.toString()));
  const code = await main(['report', '--compare', runDirs[0]!, runDirs[2]!, '--out', out], { stdout: o, stderr: new PassThrough().resume(), env: {} });
  assert.equal(code, 0);
  const again = JSON.parse(readFileSync(join(/compare report: (.*)\/compare\.md/.exec(said)![1]!, 'compare.json'), 'utf8')) as CompareReport;
  assert.equal(again.source, 'folders');
  assert.deepEqual(again.rows, [report.rows[0], report.rows[2]]);
  assert.equal(readdirSync(out).filter((d) => d.includes('-compare-')).length, 2);
});

test('compare with a bad target: every problem at once, exit 2, no run started', async () => {
  const e = new PassThrough();
  let stderr = '';
  e.on('data', (d: Buffer) => (stderr += d.toString()));
  const before = readdirSync(out).length;
  const code = await main(['compare', '--n', '100', '--targets', "nginx-idle,lighttpd,cmd:'srv --no-port',nginx-idle", '--out', out, '--no-live', '--no-metrics'], {
    stdout: new PassThrough().resume(), stderr: e, env: {},
  });
  assert.equal(code, 2);
  assert.match(stderr, /unknown target 'lighttpd'/);
  assert.match(stderr, /cmd:srv --no-port: put \{port\}/);
  assert.match(stderr, /--targets names nginx-idle twice/);
  assert.equal(readdirSync(out).length, before);
});

test('one backend for every target: the one they share, --backend when they all run there, local first under auto', () => {
  const targets = (list: string) => list.split(',').map((t) => makeTarget(t));
  assert.equal(compareBackend(targets('comet-lab,nchan,nginx-idle'), 'auto'), 'local');
  assert.equal(compareBackend(targets('comet-lab,nchan'), 'local'), 'local');
  // Both run on Docker (image: only there): auto takes it, and so does --backend docker.
  assert.equal(compareBackend(targets('comet-lab,image:my-server:1'), 'auto'), 'docker');
  assert.equal(compareBackend(targets('comet-lab,image:my-server:1'), 'docker'), 'docker');
  assert.throws(() => compareBackend(targets('comet-lab,nchan'), 'docker'), /--backend docker: compare runs every target on it, and nchan cannot run there .*they all run on local/);
  assert.throws(() => compareBackend(targets('comet-lab,image:my-server:1'), 'local'), /--backend local: .*image:my-server:1 cannot run there .*they all run on docker/);
  assert.throws(() => compareBackend(targets('comet-lab,nchan'), 'swarm'), /--backend swarm: compare runs on the local or Docker backend/);
  assert.throws(() => compareBackend(targets('nchan,image:my-server:1'), 'auto'), /nchan \(local\), image:my-server:1 \(docker\) do not share one/);
});

test('compare with a --backend a target cannot run on: exit 2, nothing started, no folder', async () => {
  const before = readdirSync(out).length;
  for (const [backend, targets, why] of [
    ['docker', 'comet-lab,nchan', /LAB_ERR_USAGE: --backend docker: .*nchan cannot run there/],
    ['swarm', 'comet-lab,nginx-idle', /LAB_ERR_USAGE: --backend swarm: compare runs on the local or Docker backend/],
    ['auto', 'nchan,image:my-server:1', /do not share one/],
  ] as const) {
    const e = new PassThrough();
    let stderr = '';
    e.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await main(['compare', '--n', '100', '--backend', backend, '--targets', targets, '--out', out, '--no-live', '--no-metrics'], { stdout: new PassThrough().resume(), stderr: e, env: {} });
    assert.equal(code, 2, stderr);
    assert.match(stderr, why);
  }
  assert.equal(readdirSync(out).length, before);
});

test('memory per connection is ranked only among rows measured the same way, and each row says how', () => {
  const row = (label: string, kib: number, kibMethod: CompareRow['kibMethod'], fitR2?: number): CompareRow => ({
    label, dir: `/runs/${label}`, target: label, n: 1000, complete: true, reachedServer: 1000, reachedClient: 1000, serverCountedBy: 'kernel',
    memoryMeasured: true, kibPerConnection: kib, kibMethod, ...(fitR2 !== undefined ? { fitR2 } : {}), kibTotalPerConnection: kib + 1, errors: {}, errorsTotal: 0, skipped: [],
  });
  // c's total/N is the lowest number, but it is not the same measure as a and b's slopes: it is not their best.
  const rows = [row('a', 2, 'ramp-slope', 0.99), row('b', 4, 'ramp-slope', 0.98), row('c', 1, 'total-over-n', 0.4)];
  const ratios = ratiosToBest(rows);
  assert.deepEqual(ratios.map((r) => r.kibPerConnection), [1, 2, 1]);
  assert.deepEqual(ratios.map((r) => r.kibTotalPerConnection), [1.5, 2.5, 1], 'total/N is one measure for every row');
  const md = renderCompareMd({ source: 'folders', createdAt: '2026-01-01T00:00:00Z', n: 1000, planText: '', rows, ratios });
  const cells = rows.map((r) => md.split('\n').find((l) => l.startsWith(`| **${r.label}** |`))!.split(' | ')[2]);
  assert.deepEqual(cells, ["**2.00** (best) ramp slope, R² 0.99", '4.00 (x2.00) ramp slope, R² 0.98', "**1.00** (best) total/N (slope's R² 0.40)"]);
  assert.match(md, /\| KiB\/conn \(how\) \|/);
  assert.match(md, /measured in 2 ways \(ramp slope: a, b; total\/N: c\): each is ranked only against the rows measured its way/);
});
