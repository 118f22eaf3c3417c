/**
 * `image:<name>` on the Docker backend, against the real engine: the test builds a tiny server image offline (on the
 * lab's own Node base), brings the lab up as its own compose project, and floods the image's container with 1,500
 * connections from two load-generator containers. The server's memory must match `docker stats` read by the test
 * over the same window, and its connections the `ss` count the test takes inside the container's network namespace;
 * the container is removed with the run. An image that does not exist is refused before anything starts.
 * Run under `flock /tmp/comet-lab-docker.lock` (the suite runs one file at a time).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { flood, prepareTarget } from '../flood.ts';
import { DockerBackend } from '../backends/docker/docker-backend.ts';
import { connectDocker } from '../backends/docker/docker-lab.ts';
import { dockerTestEnv } from '../backends/docker/docker-test-env.ts';
import { withinWindow, windowedDockerStats } from '../backends/docker/docker-stats-cli.ts';
import type { RunSample } from '../run/sample.ts';
import { main } from '../cli.ts';

const run = promisify(execFile);
const PROJECT = `cltarget${process.pid}`;
const ENV = dockerTestEnv(PROJECT);
const IMAGE = `comet-lab-test/tiny-server:${process.pid}`;
const N = 1500;
const dir = mkdtempSync(join(tmpdir(), 'comet-lab-image-target-'));
const out = join(dir, 'reports');
let docker: Dockerode;
const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} as NodeJS.ProcessEnv });
const sh = async (script: string) => {
  const r = await run('bash', [script], { env: ENV, timeout: 300_000, maxBuffer: 1 << 24 });
  return r.stdout + r.stderr;
};

before(async () => {
  await run('bash', ['scripts/start-dockerd.sh'], { timeout: 120_000 });
  docker = await connectDocker();
  assert.match(await sh('scripts/lab-up.sh'), /is up on/);
  // The lab built or pulled its Node base: the user's image is built on it, offline.
  const base = (await docker.listImages()).flatMap((i) => i.RepoTags ?? []).find((t) => t === 'node:24-bookworm-slim' || t === 'comet-lab/node-base:24')!;
  copyFileSync(new URL('./testing/tiny-chunked-server.mjs', import.meta.url), join(dir, 'server.mjs'));
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${base}\nCOPY server.mjs /srv/server.mjs\nENV TINY_SERVER_HOST=0.0.0.0\nEXPOSE 8080\nCMD ["node", "/srv/server.mjs"]\n`);
  await run('docker', ['build', '-q', '-t', IMAGE, dir], { timeout: 120_000 });
});

after(async () => {
  await sh('scripts/lab-down.sh').catch(() => undefined);
  await run('docker', ['rmi', '-f', IMAGE]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  const left = await docker.listContainers({ all: true, filters: { label: [`comet-lab.lab=${PROJECT}`] } });
  assert.equal(left.length, 0);
});

test(`image: a user's image as the server container, ${N} connections: docker stats and ss inside its namespace agree with the run`, { timeout: 240_000 }, async () => {
  const config = resolveFloodConfig({
    n: String(N), rate: '1000', holdSeconds: '8s', intervalSeconds: '1s', backend: 'docker', out, stallSeconds: '20s', sampleSeconds: '500ms',
    livePort: false, metricsPort: false, target: `image:${IMAGE}`, broadcast: true,
  });
  const target = await prepareTarget(config);
  let backend: DockerBackend | undefined;
  const samples: RunSample[] = [];
  let task: Promise<void> = Promise.resolve();
  const seen: { stats?: Awaited<ReturnType<typeof windowedDockerStats>>; ss?: number; lab?: number; name?: string } = {};
  let holdSamples = 0;
  const result = await flood(config, io(), {
    target,
    backend: (_plan, runId) => (backend = new DockerBackend({ runId, project: PROJECT, minContainers: 2, server: target.launchDocker })),
    onRun(r) {
      r.on('sample', (s: RunSample) => {
        samples.push(s);
        if (s.phase !== 'hold' || ++holdSamples !== 2) return;
        task = (async () => {
          const server = r.backend.components().find((c) => c.role === 'server')!;
          seen.name = `${PROJECT}-${backend!.runId}-server`;
          const pid = (await docker.getContainer(seen.name).inspect()).State.Pid;
          seen.ss = execFileSync('nsenter', ['-t', String(pid), '-n', 'ss', '-Htn', 'state', 'established', '( sport = :8080 )'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
          seen.lab = s.connections.server;
          seen.stats = await windowedDockerStats(seen.name, async () => (await server.probe.read()).workingSetBytes);
        })();
      });
    },
  });
  await task;
  assert.equal(result.exitCode, 0, result.summary?.incomplete);
  const s = result.summary!;
  assert.equal(s.target.kind, 'image');
  assert.equal(s.reached.client, N);
  assert.ok(Math.abs(seen.lab! - seen.ss!) <= N * 0.01, `kernel count in the run ${seen.lab} vs ss in the container ${seen.ss}`);
  assert.equal(seen.ss, N);
  assert.match(s.server.connectionsCountedBy, /^kernel: /);
  assert.equal(s.memory.server.method, 'docker-stats');
  const st = seen.stats!;
  assert.ok(withinWindow(st.cli, st.min, st.max), `docker stats ${st.cli} vs the lab's ${st.min}..${st.max}`);
  assert.ok(s.server.kibPerConnection! > 1 && s.server.kibPerConnection! < 60, `slope ${s.server.kibPerConnection} KiB`);
  assert.deepEqual(s.target.skipped.map((k) => k.phase), ['broadcast']);
  assert.equal(result.plan.server.addresses[0], '172.29.0.100');
  assert.deepEqual(await backend!.containerIds(), [], 'the server container and the load generators are removed');
  await assert.rejects(docker.getContainer(seen.name!).inspect(), 'the target container is gone');
});

test('image: an image that does not exist is refused before anything starts (exit 2)', async () => {
  const e = new PassThrough();
  let stderr = '';
  e.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await main(['flood', '--n', '100', '--target', 'image:comet-lab-test/no-such-image:1', '--out', out, '--no-live', '--no-metrics'], {
    stdout: new PassThrough().resume(), stderr: e, env: ENV,
  });
  assert.equal(code, 2);
  assert.match(stderr, /image:comet-lab-test\/no-such-image:1: no such image in the Docker engine/);
  const left = await docker.listContainers({ all: true, filters: { label: [`comet-lab.lab=${PROJECT}`, 'comet-lab.role=target'] } });
  assert.equal(left.length, 0);
});
