/**
 * The flood memory targets on a real results file of this machine (2026-11-24T2333Z: 598,020 held at 60 s) whose
 * server fit has R² 0.24 because the starved workers missed samples: the cgroups' growth judges it, not the fit.
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
