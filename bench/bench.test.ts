/**
 * The bench at tiny scale, for real: 300 idle connections for one engine and the nginx floor, CPU per chunk and one
 * broadcast against the C pair (300 and 500 streams), then a 2,000-connection flood with a broadcast and routed sends. Checks the results files and the README section (in a temp copy of
 * README) against the figures the run wrote, and that nothing it started is left (processes, cgroups, nginx).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { main } from './cli.ts';
import type { BenchResults } from './report/results.ts';
import { kb, fmtInt } from './report/format.ts';
import { writeBenchSection } from './report/readme-section.ts';
import { compareBroadcast, compareCpu } from './pairs/pair-figures.ts';

const REPO_README = fileURLToPath(new URL('../README.md', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'comet-bench-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: s, text: () => text };
}

/** Processes whose parent is this test process (the bench spawns every component as a direct child). */
function children(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

const outsideSection = (text: string) => text.replace(/<!-- section:bench -->[\s\S]*<!-- \/section:bench -->/, '');
const section = (text: string) => /<!-- section:bench -->([\s\S]*)<!-- \/section:bench -->/.exec(text)?.[1] ?? '';

test('tiny bench: results file and README section agree with the figures measured; nothing left behind', { timeout: 150_000 }, async () => {
  const readme = join(dir, 'README.md');
  const original = readFileSync(REPO_README, 'utf8');
  writeFileSync(readme, original);
  const results = join(dir, 'results');
  const out = capture(), err = capture();
  const args = [
    '--memory-n', '300', '--engines', 'raw', '--references', 'floor', '--n', '2000', '--interval', '1s', '--hold', '4s',
    '--rate', '2000', '--sends-rate', '200', '--sends-duration', '2s', '--results-dir', results,
    '--reports-dir', join(dir, 'reports'), '--readme', readme, '--host-label', 'test', '--port-drain', '0',
    '--cpu-n', '300', '--cpu-rates', '3000', '--cpu-transports', 'chunked,sse', '--cpu-rounds', '1', '--cpu-window', '2s', '--cpu-settle', '1s',
    '--broadcast-n', '500', '--broadcast-rounds', '1',
  ];
  const code = await main(args, { stdout: out.stream, stderr: err.stream, env: {} });
  assert.equal(code, 0, err.text());

  const files = readdirSync(results).sort();
  assert.equal(files.length, 2, files.join(', '));
  assert.match(files[0]!, /^\d{4}-\d\d-\d\dT\d{4}Z-test\.json$/);
  const r = JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as BenchResults;
  const md = readFileSync(join(results, files[1]!), 'utf8');

  // The memory stage: both targets held every connection, in their own group, with plausible per-connection costs.
  const mem = r.memory!;
  assert.deepEqual(mem.results.map((x) => x.target), ['nginx keep-alive floor', 'raw']);
  assert.deepEqual(mem.failures, []);
  for (const x of mem.results) {
    assert.equal(x.held, 300, x.target);
    assert.ok(x.perConnection.total > 500 && x.perConnection.total < 200_000, `${x.target}: ${x.perConnection.total} B/conn`);
    assert.ok(x.perConnection.kernel > 0, `${x.target}: the kernel's socket memory is charged to the group`);
    assert.ok(x.processes >= 2, `${x.target}: master/supervisor + one worker in the group`);
  }
  assert.match(mem.results[1]!.method ?? '', /server\/bench\/memory-bench/, "engines go through the server's own bench");

  // The flood: N held, a broadcast reached everyone, sends were delivered.
  assert.equal(r.floods.length, 1);
  const f = r.floods[0]!;
  assert.equal(f.n, 2000);
  assert.equal(f.reached.server, 2000);
  assert.equal(f.reached.client, 2000);
  assert.ok(f.complete, f.incomplete);
  assert.ok(f.secondsToTarget! > 0);
  assert.ok(f.server.slopeBytes! > 0 && f.loadgen.slopeBytes! > 0);
  assert.ok(f.chunks.received! > 0 && f.chunks.ratio! > 0.5, `chunks ${f.chunks.received}/${f.chunks.expected}`);
  assert.ok(f.cpu.totalUsPerChunk! > 0, 'CPU per chunk measured');
  assert.ok(f.fanout?.complete, 'the broadcast reached every connection');
  assert.equal(f.fanout.received, 2000);
  assert.ok(f.fanout.fanOutMs! > 0 && f.fanout.p99Ms! <= f.fanout.maxMs!);
  assert.ok(f.sends!.requests > 0 && f.sends!.messagesReceived > 0);
  // Against the C pair: each transport measured for both pairs, every chunk asked received, a ratio for each.
  assert.equal(r.cpu!.runs.length, 4);
  assert.deepEqual(r.cpu!.failures, []);
  for (const x of r.cpu!.runs) {
    const w = x.window;
    assert.ok(w.chunks > 0.8 * w.expectedChunks && w.chunks < 1.2 * w.expectedChunks, `${x.impl} ${x.transport}: ${w.chunks} of ${w.expectedChunks}`);
    assert.ok(w.usPerChunk > 0 && w.server.processes >= 1 && w.client.processes >= 1, `${x.impl} ${x.transport}`);
  }
  assert.equal(r.cpu!.runs.find((x) => x.impl === 'comet-lab')!.window.server.processes, 2, 'supervisor and worker');
  const cpuRows = compareCpu(r.cpu!);
  assert.deepEqual(cpuRows.map((x) => x.transport), ['chunked', 'sse']);
  assert.equal(r.broadcast!.runs.length, 2);
  for (const x of r.broadcast!.runs) assert.ok(x.complete && x.received === 500 && x.fanOutMs > 0, `${x.impl}: ${x.received} in ${x.fanOutMs} ms`);
  assert.equal(r.targets.length, 18);
  assert.ok(r.targets.every((t) => t.met !== false || (t.by && t.cause)), 'every miss says by how much and why');

  // The .md and README carry exactly those figures.
  const raw = mem.results[1]!, floor = mem.results[0]!;
  const ratio = `${(raw.perConnection.total / floor.perConnection.total).toFixed(2)}x`;
  for (const text of [md, section(readFileSync(readme, 'utf8'))]) {
    assert.ok(text.includes(kb(raw.perConnection.total)), 'raw KB/conn');
    assert.ok(text.includes(kb(floor.perConnection.total)), 'floor KB/conn');
    assert.ok(text.includes(ratio), 'engine / floor ratio');
    assert.ok(text.includes(kb(f.server.slopeBytes)), 'server slope');
    assert.ok(text.includes(kb(f.loadgen.slopeBytes)), 'loadgen slope');
    assert.ok(text.includes(`${f.secondsToTarget!.toFixed(1)} s`), 'time to N');
    for (const x of cpuRows) {
      assert.ok(text.includes(`${x.ratio.toFixed(2)}x`) && text.includes(`${x.ratioRange[0].toFixed(2)}-${x.ratioRange[1].toFixed(2)}x)`), `CPU ratio ${x.transport}`);
      assert.ok(text.includes(`${x.comet.total.toFixed(1)} (${x.comet.server.toFixed(1)} + ${x.comet.client.toFixed(1)})`), `comet-lab µs/chunk ${x.transport}`);
    }
    const b = compareBroadcast(r.broadcast!)[0]!;
    assert.ok(text.includes(`| ${b.ratio.toFixed(2)}x |`) || text.includes(`**${b.ratio.toFixed(2)}x**`), 'broadcast ratio');
  }
  assert.ok(md.includes(r.command) && r.command.includes('--n 2000'), 'the exact command');
  assert.ok(md.includes(`${r.host.cores} cores`) && md.includes(r.host.kernel), 'the machine');
  const readmeNow = readFileSync(readme, 'utf8');
  assert.equal(outsideSection(readmeNow), outsideSection(original), 'nothing outside the bench section changed');
  assert.ok(section(readmeNow).includes(`| ${fmtInt(2000)} | 1 s | ${fmtInt(2000)} |`), 'the flood row, its heartbeat named');
  // Other sections of the real README change under other engineers' hands; the bench's own must not have moved.
  assert.equal(section(readFileSync(REPO_README, 'utf8')), section(original), "the real README's bench section is untouched");

  // Nothing left: no child process, no cgroup of this process's memory stage.
  assert.deepEqual(children(), []);
  assert.ok(!existsSync(`/sys/fs/cgroup/memory/comet-lab/bench-${process.pid}`));
});

test('Ctrl-C during the memory stage: exit 130, nginx and its cgroup gone, partial results still written', { timeout: 60_000 }, async () => {
  const results = join(dir, 'results-int');
  const signals = new EventEmitter();
  const err = capture();
  let seen = 0;
  // Interrupt once nginx (in its cgroup) and its load generator both run: two children of this process.
  const poll = setInterval(() => {
    seen = Math.max(seen, children().length);
    if (seen >= 2) {
      clearInterval(poll);
      signals.emit('SIGINT');
    }
  }, 20);
  setTimeout(() => clearInterval(poll), 30_000).unref();
  const code = await main(['--only', 'memory', '--memory-n', '300', '--engines', 'raw', '--references', 'floor', '--results-dir', results, '--readme', 'none', '--port-drain', '0'], {
    stdout: new PassThrough().resume(), stderr: err.stream, env: {}, signals,
  });
  assert.equal(code, 130);
  assert.ok(seen >= 2, 'the interrupt came while nginx and its client ran');
  assert.deepEqual(children(), []);
  assert.ok(!existsSync(`/sys/fs/cgroup/memory/comet-lab/bench-${process.pid}`));
  const json = readdirSync(results).find((f) => f.endsWith('.json'))!;
  assert.equal((JSON.parse(readFileSync(join(results, json), 'utf8')) as BenchResults).interrupted, true);
});

test('bad flags: every problem at once, exit 2, nothing written', async () => {
  const err = capture();
  const results = join(dir, 'never');
  await assert.rejects(main(['--only', 'memory,nope', '--n', '0', '--rate', 'fast', '--results-dir', results], { stdout: new PassThrough(), stderr: err.stream, env: {} }), (e: Error & { exitCode?: number }) => {
    assert.equal(e.exitCode, 2);
    for (const s of ['--only', '--n', '--rate']) assert.ok(e.message.includes(s), e.message);
    return true;
  });
  assert.ok(!existsSync(results));
});

test('the README writer replaces only the bench section and refuses a README without one', () => {
  const p = join(dir, 'R.md');
  writeFileSync(p, 'a\n<!-- section:bench -->\nold\n<!-- /section:bench -->\nb\n');
  writeBenchSection(p, 'new table');
  assert.equal(readFileSync(p, 'utf8'), 'a\n<!-- section:bench -->\nnew table\n<!-- /section:bench -->\nb\n');
  writeFileSync(p, 'no markers\n');
  assert.throws(() => writeBenchSection(p, 'x'), /LAB_ERR_README_SECTION|section/);
});
