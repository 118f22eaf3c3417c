/**
 * The orchestrator's flood on the docker backend, end to end against a real engine: `lab-up`, a 3,000-connection
 * flood from 3 load-generator containers (count and addresses checked while they run), the report's memory figures
 * against `docker stats --no-stream` read by this test during the hold, then a flood whose load-generator container
 * is killed mid-run (report marked incomplete), one stopped by Ctrl-C, and `lab-down`. Nothing of the lab is left afterwards.
 */
import { after, before, test } from 'node:test';
import { EventEmitter } from 'node:events';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { flood, type FloodHooks } from '../flood.ts';
import type { FloodRun } from '../run/flood-run.ts';
import type { RunSample } from '../run/sample.ts';
import { DockerBackend } from './docker-backend.ts';
import { dockerTestEnv } from './docker-test-env.ts';
import { connectDocker } from './docker-lab.ts';

const run = promisify(execFile);
const PROJECT = `clflood${process.pid}`;
const ENV = dockerTestEnv(PROJECT, { COMET_WORKERS: '2', COMET_INTERVAL: '1s' });
const N = 3000;
const out = mkdtempSync(join(tmpdir(), 'comet-lab-docker-flood-'));
let docker: Dockerode;

async function sh(script: string): Promise<string> {
  const r = await run('bash', [script], { env: ENV, timeout: 300_000, maxBuffer: 1 << 24 });
  return r.stdout + r.stderr;
}

/** MEM USAGE of every running container of the lab, by name, as `docker stats --no-stream` prints it. */
function dockerStats(): Map<string, number> {
  const text = execFileSync('docker', ['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}'], { encoding: 'utf8' });
  const units: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, kB: 1e3, MB: 1e6, GB: 1e9 };
  const map = new Map<string, number>();
  for (const line of text.trim().split('\n')) {
    const m = /^(\S+) ([\d.]+)\s*([KMG]i?B|B) /.exec(line);
    if (m && m[1]!.startsWith(PROJECT)) map.set(m[1]!, Number(m[2]) * units[m[3]!]!);
  }
  return map;
}

const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} as NodeJS.ProcessEnv });
const config = (hold: string) =>
  resolveFloodConfig({ n: String(N), rate: '1500', holdSeconds: hold, intervalSeconds: '1s', backend: 'docker', out, stallSeconds: '20s' });
const hooks = (onHold: (run: FloodRun, s: RunSample, backend: DockerBackend) => Promise<void>) => {
  let task: Promise<void> = Promise.resolve();
  let backend: DockerBackend | undefined;
  let holdSamples = 0;
  const h: FloodHooks = {
    backend: (_plan, runId) => (backend = new DockerBackend({ runId, project: PROJECT, minContainers: 3 })),
    onRun(r) {
      r.on('sample', (s: RunSample) => {
        if (s.phase === 'hold' && ++holdSamples === 2) task = onHold(r, s, backend!);
      });
    },
  };
  return { hooks: h, done: () => task, backend: () => backend! };
};

before(async () => {
  await run('bash', ['scripts/start-dockerd.sh'], { timeout: 120_000 });
  docker = await connectDocker();
  const up = await sh('scripts/lab-up.sh');
  assert.match(up, /is up on/);
});

after(async () => {
  await sh('scripts/lab-down.sh').catch(() => undefined);
  rmSync(out, { recursive: true, force: true });
  const left = await docker.listContainers({ all: true, filters: { label: [`comet-lab.lab=${PROJECT}`] } });
  assert.equal(left.length, 0);
});

test('a 3,000-connection docker flood: 3 containers at their addresses; report memory matches docker stats', async () => {
  const seen: { stats?: Map<string, number>; sample?: RunSample; addresses?: string[]; names?: Map<string, string> } = {};
  const h = hooks(async (r, sample, backend) => {
    seen.sample = sample;
    seen.stats = dockerStats();
    const ids = await backend.containerIds();
    const infos = await Promise.all(ids.map((id) => docker.getContainer(id).inspect()));
    seen.addresses = infos.map((i) => Object.values(i.NetworkSettings.Networks)[0]!.IPAddress).sort();
    // component name (loadgen-1) -> container name
    seen.names = new Map(infos.map((i) => [i.Config.Labels['comet-lab.component']!, i.Name.slice(1)]));
    seen.names.set('server', backend.lab!.serverName); // Compose v1: <project>_server_1, v2: <project>-server-1
    void r;
  });
  const result = await flood(config('5s'), io(), h.hooks);
  await h.done();
  assert.equal(result.exitCode, 0, JSON.stringify(result.summary?.incomplete));
  const s = result.summary!;
  assert.equal(result.plan.loadgens.length, 3);
  assert.deepEqual(seen.addresses, ['172.29.0.100', '172.29.0.101', '172.29.0.102']);
  assert.deepEqual(result.plan.loadgens.map((l) => l.sourceAddresses[0]).sort(), seen.addresses);
  assert.equal(result.plan.server.workers, 2);
  assert.equal(result.plan.server.heartbeatIntervalMs, 1000);
  assert.equal(s.reached.client, N);
  assert.equal(s.reached.server, N);
  assert.equal(s.memory.server.method, 'docker-stats');

  // The sample of the same second against docker stats, per container: within 10% (memory moves) or 4 MiB.
  for (const c of seen.sample!.components) {
    const expected = seen.stats!.get(seen.names!.get(c.name)!);
    assert.ok(expected !== undefined, `docker stats has no ${c.name}: ${[...seen.stats!.keys()].join(' ')}`);
    const diff = Math.abs(c.workingSetBytes! - expected);
    assert.ok(diff <= Math.max(0.1 * expected, 4 * 2 ** 20), `${c.name}: sampled ${c.workingSetBytes}, docker stats ${expected}`);
  }
  // The report's hold figures against the same readings: the server's mean over the hold within 15%.
  const serverStats = seen.stats!.get(seen.names!.get('server')!)!;
  assert.ok(Math.abs(s.memory.server.holdBytes! - serverStats) / serverStats < 0.15, `hold mean ${s.memory.server.holdBytes} vs docker stats ${serverStats}`);
  const loadgenStats = [...seen.stats!.entries()].filter(([n]) => n.includes('loadgen')).reduce((a, [, v]) => a + v, 0);
  assert.ok(Math.abs(s.memory.loadgen.holdBytes! - loadgenStats) / loadgenStats < 0.15, `loadgen hold ${s.memory.loadgen.holdBytes} vs docker stats ${loadgenStats}`);
  assert.ok(s.chunks.received! >= 0.8 * s.chunks.expected!, `chunks ${s.chunks.received} of ${s.chunks.expected}`);

  for (const f of ['report.md', 'report.html', 'samples.csv', 'summary.json', 'run.json']) assert.ok(existsSync(join(result.reportDir!, f)), f);
  assert.match(readFileSync(join(result.reportDir!, 'report.md'), 'utf8'), /docker-stats/);
  assert.deepEqual(await h.backend().containerIds(), []);
});

test('a load-generator container killed mid-run: the run stops, the report says which and is incomplete', async () => {
  const h = hooks(async (_r, _s, backend) => {
    const ids = await backend.containerIds();
    await docker.getContainer(ids[0]!).kill();
  });
  const result = await flood(config('30s'), io(), h.hooks);
  await h.done();
  assert.equal(result.exitCode, 1);
  assert.equal(result.summary!.complete, false);
  assert.match(result.summary!.incomplete!, /loadgen-\d.*(exited with code 137|died)/);
  assert.deepEqual(await h.backend().containerIds(), []);
});

test('Ctrl-C during a docker flood: exit 130, report incomplete, no load-generator container left', async () => {
  const signals = new EventEmitter();
  const h = hooks(async () => {
    signals.emit('SIGINT');
  });
  const result = await flood(config('30s'), { ...io(), signals }, h.hooks);
  await h.done();
  assert.equal(result.exitCode, 130);
  assert.equal(result.summary!.complete, false);
  assert.match(result.summary!.incomplete!, /SIGINT/);
  assert.deepEqual(await h.backend().containerIds(), []);
  assert.equal((await docker.listContainers({ all: true, filters: { label: [`comet-lab.lab=${PROJECT}`] } })).length, 0);
});
