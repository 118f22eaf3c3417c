/**
 * The sampler's own cost figures, against a real probe: comet-lab's server in a memory cgroup of its own, read by the
 * StatusMemoryProbe (its GET /stats, over HTTP: a reading that resolves later, as docker stats does). probesMs must
 * be the time until the probes answered, so it has to agree with the same probe's reading timed here, and lie inside
 * the sample's own time. Skipped where no cgroup can be made (the server then reports no cgroupMemory).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO_ROOT } from '../flood.ts';
import type { Component } from '../backends/backend.ts';
import { ComponentCgroup, detectCgroup, removeRunDir } from '../backends/local/cgroup.ts';
import { spawnComponent, type SpawnedComponent } from '../backends/local/spawn-component.ts';
import { StatusMemoryProbe } from '../backends/probes/status-memory-probe.ts';
import { takeSample } from './sampler.ts';

const layout = detectCgroup();
const run = `${process.pid}-sampler-${Math.random().toString(16).slice(2, 8)}`;
let cg: ComponentCgroup | undefined;
let proc: SpawnedComponent | undefined;

before(async () => {
  if (!layout) return;
  cg = new ComponentCgroup(layout, run, 'server');
  proc = await spawnComponent(cg.wrapCommand([process.execPath, 'server/cli.ts', '--port', '0', '--workers', '1', '--interval', '5s'], 20000), 'server', { timeoutMs: 30_000, cwd: REPO_ROOT });
}, { timeout: 60_000 });

after(async () => {
  proc?.child.kill('SIGKILL');
  await cg?.remove();
  if (layout) removeRunDir(layout, run);
});

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

test('probesMs is the time the probes took to answer, as the same probe timed here', { skip: layout ? false : 'no writable memory cgroup here' }, async (t) => {
  const url = `http://127.0.0.1:${proc!.ready.port}`;
  const probe = new StatusMemoryProbe(url, 'server');
  const server: Component = { name: 'server', role: 'server', url, probe, exited: () => undefined };
  await probe.read(); // the first request opens the keep-alive connection
  const sampled: Array<{ probesMs: number; sampleMs: number }> = [];
  const own: number[] = [];
  for (let i = 0; i < 7; i++) {
    const { sample } = await takeSample({ components: [server], askStats: false, startedAtMs: Date.now(), phase: 'hold', target: 0 });
    assert.ok(sample.components[0]!.workingSetBytes! > 0, 'the probe answered');
    sampled.push({ probesMs: sample.orchestrator!.probesMs, sampleMs: sample.orchestrator!.sampleMs });
    const t0 = performance.now();
    await probe.read();
    own.push(performance.now() - t0);
  }
  t.diagnostic(`probesMs ${sampled.map((s) => s.probesMs).join(', ')}; the probe timed here ${own.map((ms) => ms.toFixed(2)).join(', ')} ms`);
  for (const s of sampled) {
    assert.ok(s.probesMs > 0, `probesMs ${s.probesMs} > 0`);
    assert.ok(s.probesMs <= s.sampleMs + 0.1, `probesMs ${s.probesMs} within the sample's ${s.sampleMs} ms`);
  }
  // One HTTP round trip to a local server: about a millisecond either way; the time to start the read is far below.
  const mine = median(own), theirs = median(sampled.map((s) => s.probesMs));
  assert.ok(theirs >= 0.3 * mine && theirs <= 3 * mine + 5, `median probesMs ${theirs} against ${mine.toFixed(2)} ms timed here`);
});
