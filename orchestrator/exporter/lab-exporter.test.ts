import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { METRICS } from '../../shared/contracts.ts';
import { freePort, startPrometheus } from '../../dashboards/prometheus-process.ts';
import { startLabExporter, COMPONENT_INFO_METRIC, COMPONENT_UP_METRIC, RUN_INFO_METRIC } from './lab-exporter.ts';
import { writeTargetsFile, removeTargetsFile } from './prometheus-targets.ts';
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import type { FloodRunEvents } from '../run/flood-run.ts';
import type { ComponentSample, RunSample } from '../run/sample.ts';
import { testSample } from '../run/test-sample.ts';

const MiB = 1024 * 1024;

function sample(over: { conns: number; server?: Partial<ComponentSample>; loadgenUp?: boolean; phase?: string; cpu?: number; t?: number }): RunSample {
  return testSample({
    t: over.t ?? 0,
    phase: over.phase ?? 'ramp',
    target: 1000,
    conns: over.conns,
    components: [
      { name: 'server', role: 'server', up: true, workingSetBytes: 50 * MiB + over.conns * 4000, kernelSocketBytes: over.conns * 1000, cpuSeconds: over.cpu ?? 1, method: 'cgroup-v1', ...over.server },
      over.loadgenUp === false
        ? { name: 'loadgen-1', role: 'loadgen', up: false, exited: 'killed by SIGKILL' }
        : { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MiB + over.conns * 2000, method: 'cgroup-v1' },
    ],
    kernelTcpBytes: 4096 * 10 + over.conns * 3000,
    kernelSlabBytes: 100 * MiB + over.conns * 9000,
  });
}

/** Parses Prometheus text into `name{labels}` -> value, enough to check what the exporter serves. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('the exporter serves what the run samples, with lab_* names from shared/contracts.ts', async (t) => {
  const exporter = await startLabExporter();
  t.after(() => exporter.close());
  const run = new EventEmitter<FloodRunEvents>();
  const detach = exporter.attach(run);
  run.emit('phase', { name: 'up', atMs: Date.now(), t: 0 });
  exporter.setRunInfo({ target: 'comet-lab', transport: 'chunked', backend: 'local', engine: '' });
  run.emit('sample', sample({ conns: 0, phase: 'up', cpu: 1 }));
  run.emit('sample', sample({ conns: 1000, phase: 'hold', cpu: 3.5 }));
  const m = await scrape(exporter.url);

  assert.equal(m.get(METRICS.lab.target), 1000);
  assert.equal(m.get(`${METRICS.lab.phase}{phase="hold"}`), 1);
  assert.equal(m.get(`${METRICS.lab.phase}{phase="up"}`), 0);
  assert.equal(m.get(`${METRICS.lab.connections}{side="server"}`), 1000);
  assert.equal(m.get(`${METRICS.lab.connections}{side="client"}`), 1000);
  assert.equal(m.get(`${METRICS.lab.memory}{component="server",kind="working_set"}`), 50 * MiB + 4_000_000);
  assert.equal(m.get(`${METRICS.lab.memory}{component="server",kind="kernel_socket"}`), 1_000_000);
  assert.equal(m.get(`${METRICS.lab.memory}{component="loadgen-1",kind="working_set"}`), 40 * MiB + 2_000_000);
  // Growth over the first sample divided by connections: 4000 + 1000 for the server, 2000 for the load generator,
  // 9000 of host-wide slab per server connection.
  assert.equal(m.get(`${METRICS.lab.memoryPerConnection}{component="server"}`), 5000);
  assert.equal(m.get(`${METRICS.lab.memoryPerConnection}{component="loadgen"}`), 2000);
  assert.equal(m.get(`${METRICS.lab.memoryPerConnection}{component="kernel"}`), 9000);
  assert.equal(m.get(`${RUN_INFO_METRIC}{target="comet-lab",transport="chunked",backend="local",engine="default"}`), 1);
  assert.equal(m.get(`${COMPONENT_INFO_METRIC}{component="loadgen-1",role="loadgen",node="${os.hostname()}"}`), 1);
  assert.equal(m.get(METRICS.lab.kernelTcp), 40960 + 3_000_000);
  assert.equal(m.get(`${METRICS.lab.cpu}{component="server"}`), 3.5);
  assert.equal(m.get(`${COMPONENT_UP_METRIC}{component="server",role="server"}`), 1);
  assert.equal(m.get(`${COMPONENT_UP_METRIC}{component="loadgen-1",role="loadgen"}`), 1);
  assert.ok((m.get('process_open_fds') ?? 0) > 0, 'default process metrics are exported too');

  detach();
  run.emit('sample', sample({ conns: 5 }));
  assert.equal((await scrape(exporter.url)).get(`${METRICS.lab.connections}{side="server"}`), 1000, 'detached: no longer follows the run');
});

test('a component that dies shows as down, and its memory series go away instead of falling to zero', async (t) => {
  const exporter = await startLabExporter();
  t.after(() => exporter.close());
  const run = new EventEmitter<FloodRunEvents>();
  exporter.attach(run);
  run.emit('sample', sample({ conns: 500 }));
  assert.ok((await scrape(exporter.url)).has(`${METRICS.lab.memory}{component="loadgen-1",kind="working_set"}`));
  run.emit('sample', sample({ conns: 500, loadgenUp: false }));
  const m = await scrape(exporter.url);
  assert.equal(m.get(`${COMPONENT_UP_METRIC}{component="loadgen-1",role="loadgen"}`), 0);
  assert.equal(m.get(`${COMPONENT_UP_METRIC}{component="server",role="server"}`), 1);
  assert.ok(![...m.keys()].some((k) => k.startsWith(METRICS.lab.memory) && k.includes('loadgen-1')), [...m.keys()].join('\n'));
  assert.ok(!m.has(`${METRICS.lab.memoryPerConnection}{component="loadgen"}`), 'no per-connection figure for a dead side');
});

test('memory per connection is left out, not clamped to 0, where it would mean nothing', async (t) => {
  const exporter = await startLabExporter();
  t.after(() => exporter.close());
  const run = new EventEmitter<FloodRunEvents>();
  exporter.attach(run);
  run.emit('sample', sample({ conns: 0 }));
  // Socket buffers that read 0 (cgroup v1 here) are not a figure: no kernel_socket series until one reads above 0.
  let m = await scrape(exporter.url);
  assert.equal(m.has(`${METRICS.lab.memory}{component="server",kind="kernel_socket"}`), false);
  assert.equal(m.has(`${METRICS.lab.memory}{component="server",kind="working_set"}`), true);
  run.emit('sample', sample({ conns: 50 })); // under 100 held: GC noise would dominate
  m = await scrape(exporter.url);
  assert.ok(![...m.keys()].some((k) => k.startsWith(METRICS.lab.memoryPerConnection)), [...m.keys()].join('\n'));
  // The server's memory fell below its first reading (a GC): no figure for it, the others stay.
  run.emit('sample', sample({ conns: 1000, server: { workingSetBytes: 40 * MiB, kernelSocketBytes: 0 } }));
  m = await scrape(exporter.url);
  assert.equal(m.has(`${METRICS.lab.memoryPerConnection}{component="server"}`), false);
  assert.equal(m.get(`${METRICS.lab.memoryPerConnection}{component="loadgen"}`), 2000);
});

test('bad requests get 404 and a taken port is a LabError with a hint', async (t) => {
  const exporter = await startLabExporter();
  t.after(() => exporter.close());
  assert.equal((await fetch(exporter.url.replace('/metrics', '/nope'))).status, 404);
  assert.equal((await fetch(exporter.url, { method: 'POST' })).status, 405);
  await assert.rejects(startLabExporter({ port: exporter.port }), (err: any) => err.code === 'LAB_ERR_EXPORTER_LISTEN' && /metrics-port/.test(err.hint));
});

test('prometheus.local.yml finds the targets file a run writes, and a dead target shows as down', async (t) => {
  // Lay out the config exactly as in the repository (dashboards/prometheus/) so its relative file_sd path resolves to
  // this temporary tree's .lab/prometheus, not the working tree's.
  const root = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-exporter-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const config = path.join(root, 'dashboards/prometheus/prometheus.local.yml');
  await mkdir(path.dirname(config), { recursive: true });
  await copyFile(new URL('../../dashboards/prometheus/prometheus.local.yml', import.meta.url), config);

  const exporter = await startLabExporter();
  t.after(() => exporter.close());
  exporter.observe(sample({ conns: 10 }));
  const deadPort = await freePort();
  const file = await writeTargetsFile(path.join(root, '.lab/prometheus'), [
    { name: 'lab', role: 'lab', url: exporter.url },
    { name: 'server', role: 'server', url: `http://127.0.0.1:${deadPort}` },
  ]);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8'))[0].labels.job, 'lab');

  const prom = await startPrometheus(config);
  t.after(() => prom.stop());
  const deadline = Date.now() + 30_000;
  let up: Record<string, string> = {};
  while (Date.now() < deadline) {
    const res = await prom.query('up');
    up = Object.fromEntries(res.map((s) => [s.metric.job!, s.value![1]]));
    if (up.lab === '1' && up.server === '0') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(up, { lab: '1', server: '0' });
  const conns = await prom.query(`${METRICS.lab.connections}{side="server"}`);
  assert.equal(conns[0]?.value?.[1], '10');
  // The exporter's `component` label survives the scrape (no target label of that name pushes it aside).
  const mem = await prom.query(`${METRICS.lab.memory}{kind="working_set"}`);
  assert.deepEqual(mem.map((s) => s.metric.component).sort(), ['loadgen-1', 'server']);
  assert.ok(mem.every((s) => s.metric.exported_component === undefined));
  await removeTargetsFile(file);
});

test('a run killed before it could remove its targets file is cleaned up by the next run', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-targets-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dead = spawnSync('true').pid!; // a pid that has exited
  await writeFile(path.join(dir, `run-${dead}.json`), '[]');
  await writeFile(path.join(dir, `run-${process.ppid}.json`), '[]'); // a live process: kept
  await writeFile(path.join(dir, 'notes.txt'), ''); // not a run file: kept
  await writeTargetsFile(dir, [{ name: 'lab', role: 'lab', url: 'http://127.0.0.1:1/metrics' }]);
  assert.deepEqual((await readdir(dir)).sort(), ['notes.txt', `run-${process.pid}.json`, `run-${process.ppid}.json`].sort());
});
