/**
 * The orchestrator's flood on the docker backend, end to end against a real engine: `lab-up`, a 3,000-connection
 * flood from 3 load-generator containers (count and addresses checked while they run), the report's memory figures
 * against `docker stats --no-stream` read by this test during the hold, then a flood whose load-generator container
 * is killed mid-run (report marked incomplete), one stopped by Ctrl-C, and `lab-down`. Nothing of the lab is left afterwards.
 */
import { after, before, test } from 'node:test';
import { EventEmitter } from 'node:events';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { resolveFloodConfig } from '../../config/flood-config.ts';
import { flood, type FloodHooks } from '../../flood.ts';
import type { FloodRun } from '../../run/flood-run.ts';
import type { RunSample } from '../../run/sample.ts';
import { DockerBackend } from './docker-backend.ts';
import { dockerTestEnv } from './docker-test-env.ts';
import { connectDocker } from './docker-lab.ts';
import { dockerStatsCli, withinWindow } from './docker-stats-cli.ts';

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

const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} as NodeJS.ProcessEnv });
const config = (hold: string, extra: Record<string, string | boolean> = {}) =>
  resolveFloodConfig({ n: String(N), rate: '1500', holdSeconds: hold, intervalSeconds: '1s', backend: 'docker', out, stallSeconds: '20s', ...extra });
const hooks = (onHold: (run: FloodRun, s: RunSample, backend: DockerBackend) => Promise<void>, onSample?: (s: RunSample) => void) => {
  let task: Promise<void> = Promise.resolve();
  let backend: DockerBackend | undefined;
  let holdSamples = 0;
  const h: FloodHooks = {
    backend: (_plan, runId) => (backend = new DockerBackend({ runId, project: PROJECT, minContainers: 3 })),
    onRun(r) {
      r.on('sample', (s: RunSample) => {
        onSample?.(s);
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
  // Every sample as it arrives, and `docker stats` read again and again through the hold (each reading takes 2.5 s).
  const samples: { atMs: number; s: RunSample }[] = [];
  const readings: { startMs: number; endMs: number; stats: Map<string, number> }[] = [];
  const seen: { addresses?: string[]; names?: Map<string, string>; anonymous?: number } = {};
  let holding = true;
  const h = hooks(async (r, _sample, backend) => {
    // The lab's server has a random token (lab-up): without it, no broadcast; the orchestrator's own carry it.
    const server = backend.components().find((c) => c.role === 'server')!;
    seen.anonymous = (await fetch(`${server.url}/broadcast`, { method: 'POST', body: 'x' })).status;
    r.on('phase', (p: { name: string }) => {
      if (p.name !== 'hold') holding = false;
    });
    const ids = await backend.containerIds();
    const infos = await Promise.all(ids.map((id) => docker.getContainer(id).inspect()));
    seen.addresses = infos.map((i) => Object.values(i.NetworkSettings.Networks)[0]!.IPAddress).sort();
    // component name (loadgen-1) -> container name
    seen.names = new Map(infos.map((i) => [i.Config.Labels['comet-lab.component']!, i.Name.slice(1)]));
    seen.names.set('server', backend.lab!.serverName); // Compose v1: <project>_server_1, v2: <project>-server-1
    while (holding && readings.length < 8) {
      const startMs = Date.now();
      const stats = await dockerStatsCli([...seen.names.values()]).catch(() => undefined); // the hold may end meanwhile
      if (holding && stats) readings.push({ startMs, endMs: Date.now(), stats });
    }
  }, (s) => samples.push({ atMs: Date.now(), s }));
  const result = await flood(config('10s', { sendsRate: '100', sendsSeconds: '2s', broadcast: true }), io(), h.hooks);
  await h.done();
  assert.equal(result.exitCode, 0, JSON.stringify(result.summary?.incomplete));
  const s = result.summary!;
  assert.equal(seen.anonymous, 401);
  assert.ok(s.sends!.accepted! > 0 && s.sends!.non2xx === 0, `sends carry the lab's token: ${JSON.stringify(s.sends)}`);
  assert.equal(s.broadcast!.complete, true, JSON.stringify(s.broadcast));
  assert.equal(result.plan.loadgens.length, 3);
  assert.deepEqual(seen.addresses, ['172.29.0.100', '172.29.0.101', '172.29.0.102']);
  assert.deepEqual(result.plan.loadgens.map((l) => l.sourceAddresses[0]).sort(), seen.addresses);
  assert.equal(result.plan.server.workers, 2);
  assert.equal(result.plan.server.heartbeatIntervalMs, 1000);
  assert.equal(s.reached.client, N);
  assert.equal(s.reached.server, N);
  assert.equal(s.memory.server.method, 'docker-stats');

  // Each component's sampled memory against docker stats of the same moment: docker stats prints one moment of its
  // 2.5 s window, so it must lie among the samples taken in that window (2% or 1 MiB slack), in a window where
  // memory moved less than 5% (the server's idle GC drops 12-15 MiB a few seconds after the ramp: docker-stats-cli.ts).
  const ws = (x: RunSample, name: string) => x.components.find((c) => c.name === name)?.workingSetBytes;
  for (const name of ['server', 'loadgen-1', 'loadgen-2', 'loadgen-3']) {
    const container = seen.names!.get(name)!;
    let compared = 0;
    for (const r of readings) {
      const inWindow = samples.filter((x) => x.s.phase === 'hold' && x.s.atMs >= r.startMs - 1000 && x.s.atMs <= r.endMs);
      const values = inWindow.map((x) => ws(x.s, name)).filter((v): v is number => v !== undefined);
      const cli = r.stats.get(container);
      if (values.length < 2 || cli === undefined || Math.max(...values) / Math.min(...values) > 1.05) continue;
      assert.ok(withinWindow(cli, Math.min(...values), Math.max(...values)), `${name}: docker stats ${cli}, samples of the same window ${values.join(', ')}`);
      compared++;
    }
    const dump = JSON.stringify({ readings: readings.map((r) => [r.startMs, r.endMs, r.stats.get(container)]), samples: samples.map((x) => [x.s.atMs, x.s.phase, ws(x.s, name)]) });
    assert.ok(compared > 0, `${name}: no docker stats reading in a window where memory moved less than 5%: ${dump}`);
  }
  // The report's hold figures are the mean of those same samples (checked against docker stats just above).
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const hold = samples.filter((x) => x.s.phase === 'hold').map((x) => x.s);
  const serverHold = mean(hold.map((x) => ws(x, 'server')!));
  assert.ok(Math.abs(s.memory.server.holdBytes! - serverHold) / serverHold < 0.01, `hold mean ${s.memory.server.holdBytes} vs samples ${serverHold}`);
  const loadgenHold = mean(hold.map((x) => ['loadgen-1', 'loadgen-2', 'loadgen-3'].reduce((a, n) => a + ws(x, n)!, 0)));
  assert.ok(Math.abs(s.memory.loadgen.holdBytes! - loadgenHold) / loadgenHold < 0.01, `loadgen hold ${s.memory.loadgen.holdBytes} vs samples ${loadgenHold}`);
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
