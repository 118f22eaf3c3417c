/**
 * The flood memory targets on a real results file of this machine (2026-11-24T2333Z: 598,020 held at 60 s) whose
 * server fit has R² 0.24 because the starved workers missed samples: the cgroups' growth judges it, not the fit; and
 * the CPU-per-chunk and C-pair figures on the files that showed their flaws (a sent count missing, a round failed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from './results.ts';
import { checkTargets } from './targets.ts';

const FILE = fileURLToPath(new URL('../results/2026-11-24T2333Z-vm.json', import.meta.url));

test('a memory fit with a low R² does not pass a target the cgroups miss', () => {
  const r = JSON.parse(readFileSync(FILE, 'utf8')) as BenchResults;
  const server = r.floods[0]!.server;
  assert.ok(server.slopeR2! < 0.9 && server.slopeBytes! <= 4096, 'the file is the case: a poor fit under 4 KB');
  const t = checkTargets(r).find((x) => x.id === 'server-4kb-flood')!;
  assert.equal(t.met, false, t.measured);
  assert.match(t.measured, /cgroup growth over the ramp; the fit slope .* R² 0\.24, too low to trust/);
  assert.ok(t.measured.startsWith(`${(server.growthPerConnection!.total / 1024).toFixed(2)} KB`), t.measured);

  // With a good fit the slope is the figure, as before.
  server.slopeR2 = 0.99;
  const good = checkTargets(r).find((x) => x.id === 'server-4kb-flood')!;
  assert.equal(good.met, true);
  assert.match(good.measured, /fit slope over the ramp/);
});

test("a server sent count that fell over the hold is not used: CPU per chunk by the received count", async () => {
  const { cpuPerChunk } = await import('../flood/flood-figures.ts');
  // 2026-11-24T2339Z: 1,000,000 held at 120 s; the server's summed sent count fell by 417,944 over the hold.
  const r = JSON.parse(readFileSync(fileURLToPath(new URL('../results/2026-11-24T2339Z-vm.json', import.meta.url)), 'utf8')) as BenchResults;
  const c = r.floods[0]!.cpu;
  assert.ok(c.serverChunks! < 0 && c.serverUsPerChunk! < 0, 'the file is the case: negative µs per chunk as written');
  const fixed = cpuPerChunk(c);
  assert.equal(fixed.serverChunksUnusable, true);
  assert.equal(fixed.serverUsPerChunk!.toFixed(3), ((c.serverSeconds! * 1e6) / c.clientChunks!).toFixed(3));
  assert.ok(fixed.totalUsPerChunk! > fixed.serverUsPerChunk!);
  // A sane count is used as it is.
  assert.equal(cpuPerChunk({ ...c, serverChunks: c.clientChunks }).serverChunksUnusable, undefined);
});

test('a flood whose hold has no server sent count: server CPU per chunk received, not n/a beside a total that counts it', async () => {
  const { cpuPerChunk } = await import('../flood/flood-figures.ts');
  // 2026-11-30T2040Z: 1,871,739 chunks received over the hold, the server's CPU seconds known, its sent count not sampled.
  const r = JSON.parse(readFileSync(fileURLToPath(new URL('../results/2026-11-30T2040Z-vm.json', import.meta.url)), 'utf8')) as BenchResults;
  const c = r.floods[0]!.cpu;
  assert.ok(c.serverChunks === undefined && c.serverSeconds! > 0 && c.serverUsPerChunk === undefined, 'the file is the case');
  const fixed = cpuPerChunk(c);
  assert.equal(fixed.serverChunksMissing, true);
  assert.equal(fixed.serverUsPerChunk!.toFixed(3), ((c.serverSeconds! * 1e6) / c.clientChunks!).toFixed(3));
  assert.equal((fixed.serverUsPerChunk! + fixed.loadgenUsPerChunk!).toFixed(3), fixed.totalUsPerChunk!.toFixed(3), 'the two shares add up to the total');
  const { renderResultsMd } = await import('./results-md.ts');
  assert.match(renderResultsMd({ ...r, floods: [{ ...r.floods[0]!, cpu: { ...c, ...fixed } }] }), /server 25\.7 µs \(48\.18 s \/ 1,871,739 received: the hold's samples have no server sent count\)/);
});

test('a CPU round that failed is named: rounds per row, and in the targets, not left out silently', async () => {
  const { compareCpu } = await import('../pairs/pair-figures.ts');
  const { renderBenchSection } = await import('./readme-section.ts');
  // 2026-11-30T2052Z: comet-lab chunked at 100,000/s round 1 held 9,022 of 10,000 streams; every other run completed.
  const r = JSON.parse(readFileSync(fileURLToPath(new URL('../results/2026-11-30T2052Z-vm.json', import.meta.url)), 'utf8')) as BenchResults;
  assert.deepEqual(r.cpu!.failures.map((f) => f.what), ['comet-lab chunked 100000/s round 1'], 'the file is the case');
  const rows = compareCpu(r.cpu!);
  const row = rows.find((x) => x.transport === 'chunked' && x.rate === 100_000)!;
  assert.equal(row.comet.rounds, 2);
  assert.deepEqual(row.comet.failed.map((f) => f.round), [1]);
  assert.equal(row.c.rounds, 3);
  assert.deepEqual(row.c.failed, []);
  assert.ok(rows.filter((x) => x !== row).every((x) => x.comet.rounds === 3 && x.comet.failed.length === 0));

  const targets = checkTargets(r);
  const cpu = targets.find((t) => t.id === 'cpu-vs-c-chunked')!;
  assert.match(cpu.measured, /100,000\/s: .*medians of 2 comet-lab rounds against 3 C rounds, comet-lab round 1 failed \(9022 of 10000 streams held/);
  assert.doesNotMatch(targets.find((t) => t.id === 'cpu-vs-c-sse')!.measured, /failed/);
  const keepUp = targets.find((t) => t.id === 'keep-up-100k')!;
  assert.match(keepUp.measured, /rounds: 85\.0%, 76\.6% \(1 failed: round 1, 9022 of 10000 streams held/);

  const section = renderBenchSection([{ file: '2026-11-30T2052Z-vm.md', results: { ...r, targets } }], 'bench/results');
  assert.match(section, /\| chunked \| 100,000 \| 2 of 3 \(round 1 failed\), 3 \|/);
  assert.match(section, /\| chunked \| 10,000 \| 3, 3 \|/);
  assert.doesNotMatch(section, /medians of 3 alternating rounds/);
});
