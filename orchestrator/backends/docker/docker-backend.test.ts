/**
 * The Docker lab against a real engine (started by scripts/start-dockerd.sh when none runs): the offline image
 * builds, `lab-up` (twice) and `lab-down` (twice), a subnet already taken, and the docker backend holding a few
 * thousand connections from 3 load-generator containers with their own addresses, its memory figures checked
 * against `docker stats --no-stream` read here, a killed and an OOM-killed container reported, and nothing left.
 * The lab runs as its own compose project on its own subnet and ports, with the tuner in dry-run (no host change).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { DockerBackend } from './docker-backend.ts';
import { dockerTestEnv, dockerTestPlan } from './docker-test-env.ts';
import { connectDocker, isDockerLabUp } from './docker-lab.ts';
import { DockerExitWatch } from './docker-exit-watch.ts';
import { windowedDockerStats, withinWindow } from './docker-stats-cli.ts';
import { waitFor } from '../../../shared/testing/wait-for.ts';

const run = promisify(execFile);
const PROJECT = `cltest${process.pid}`;
const ENV = dockerTestEnv(PROJECT, { COMET_WORKERS: '1' });
const N = 3000;
const IMAGE = process.env.COMET_LAB_LOADGEN_IMAGE || 'comet-lab/loadgen:latest';
const MIB = 2 ** 20;
let docker: Dockerode;

async function sh(script: string, env = ENV): Promise<{ code: number; out: string }> {
  try {
    const r = await run('bash', [script], { env, timeout: 300_000, maxBuffer: 1 << 24 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

const labContainers = async () =>
  (await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${PROJECT}`] } })).length +
  (await docker.listContainers({ all: true, filters: { label: [`comet-lab.lab=${PROJECT}`] } })).length;
const hasNetwork = async () => (await docker.listNetworks({ filters: { name: [`${PROJECT}_lab`] } })).length > 0;
const hasVolume = async () => ((await docker.listVolumes({ filters: { name: [`${PROJECT}_prometheus-data`] } })).Volumes ?? []).length > 0;

before(async () => {
  const r = await sh('scripts/start-dockerd.sh');
  assert.equal(r.code, 0, r.out);
  docker = await connectDocker();
});

after(async () => {
  await sh('scripts/lab-down.sh');
});

test('the offline base images: the project Node and Debian Prometheus, imported without a registry', async () => {
  const tags = [`comet-lab/node-base:test${process.pid}`, `comet-lab/prometheus-local:test${process.pid}`];
  try {
    const node = await run('bash', ['docker/build-node-base.sh', tags[0]!], { timeout: 120_000 });
    assert.equal(node.stdout.trim(), tags[0]);
    const prom = await run('bash', ['docker/build-prometheus-local.sh', tags[1]!], { timeout: 120_000 });
    assert.equal(prom.stdout.trim(), tags[1]);
    const version = execFileSync('docker', ['run', '--rm', tags[0]!, 'node', '--version'], { encoding: 'utf8' }).trim();
    assert.equal(version, process.version);
    const pv = execFileSync('docker', ['run', '--rm', '--entrypoint', '/bin/prometheus', tags[1]!, '--version'], { encoding: 'utf8' });
    assert.match(pv, /^prometheus, version 2\./);
  } finally {
    for (const t of tags) await docker.getImage(t).remove().catch(() => undefined);
  }
});

test('lab-up with bad settings fails at once, every problem listed, before building or starting anything', async () => {
  const env = { ...ENV, COMET_LAB_PROJECT: `${PROJECT}bad`, COMET_MAX_CONNECTIONS: 'abc', COMET_WORKERS: 'many', COMET_LAB_SUBNET: '10.0.0.0/33', COMET_INTERVAL: 'soon' };
  const started = Date.now();
  const r = await sh('scripts/lab-up.sh', env);
  assert.equal(r.code, 2, r.out);
  for (const v of ['COMET_MAX_CONNECTIONS=abc', 'COMET_WORKERS=many', 'COMET_LAB_SUBNET=10.0.0.0/33', 'COMET_INTERVAL=soon']) assert.match(r.out, new RegExp(v.replace('.', '\\.')));
  assert.doesNotMatch(r.out, /building|starting dockerd|pulling/);
  assert.ok(Date.now() - started < 5000, 'no build, no engine start');
  assert.equal((await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${PROJECT}bad`] } })).length, 0);
});

test('lab-down with nothing up says so; lab-up starts the stack; lab-up again says it is up', async () => {
  const down = await sh('scripts/lab-down.sh');
  assert.equal(down.code, 0, down.out);
  assert.match(down.out, /not up: nothing to take down/);
  const up = await sh('scripts/lab-up.sh');
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, /is up on 172\.29\.0\.0\/16/);
  assert.match(up.out, /tuner: profile c1m checked, 0 failure\(s\)/);
  const server = (await docker.listContainers({ filters: { label: [`com.docker.compose.project=${PROJECT}`, 'comet-lab.role=server'] } }))[0];
  assert.ok(server, 'no server container');
  const info = await docker.getContainer(server.Id).inspect();
  assert.equal(Object.values(info.NetworkSettings.Networks)[0]!.IPAddress, '172.29.0.10');
  assert.deepEqual(info.HostConfig.Ulimits, [{ Name: 'nofile', Soft: 20000, Hard: 20000 }]);
  assert.equal(info.HostConfig.Sysctls?.['net.core.somaxconn'], '65535');
  assert.equal(await isDockerLabUp(PROJECT), true);
  assert.equal(await isDockerLabUp(`${PROJECT}-absent`), false);
  const again = await sh('scripts/lab-up.sh');
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /already up/);
});

test('tuner: writes host-wide keys through the host /proc/sys, skips per-namespace ones', async () => {
  // A profile that sets a host-wide key to the value it already has: the write path is exercised, the host unchanged.
  const dir = mkdtempSync(join(tmpdir(), 'comet-lab-tuner-'));
  const nrOpen = readFileSync('/proc/sys/fs/nr_open', 'utf8').trim();
  writeFileSync(join(dir, 'same.conf'), `# host: test\nfs.nr_open = ${nrOpen}\n# netns: test\nnet.core.somaxconn = 4096\n`);
  try {
    const repo = process.cwd();
    const r = await run('docker', [
      'run', '--rm', '--network', 'host', '--cap-add', 'SYS_ADMIN', '--cap-add', 'NET_ADMIN',
      '-v', `${repo}/kernel:/lab/kernel:ro`, '-v', `${repo}/docker:/lab/docker:ro`, '-v', `${repo}/shared:/lab/shared:ro`,
      '-v', '/proc/sys:/host/proc/sys', '-v', `${dir}:/profiles:ro`,
      '-e', 'COMET_LAB_PROFILE=/profiles/same.conf', '-e', 'COMET_LAB_SYSCTL_ROOT=/host/proc/sys',
      '--entrypoint', 'node', process.env.COMET_LAB_SERVER_IMAGE || 'comet-lab/server:latest', '/lab/docker/tuner-entrypoint.ts',
    ], { timeout: 60_000 });
    assert.match(r.stdout, new RegExp(`tuner: fs.nr_open = ${nrOpen} \\(unchanged\\)`));
    assert.match(r.stdout, /skip net.core.somaxconn \(per network namespace/);
    assert.match(r.stdout, /0 failure\(s\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('docker backend: 3 load-generator containers at their own addresses hold N; memory as docker stats shows it', async () => {
  const backend = new DockerBackend({ project: PROJECT, minContainers: 3, durationSeconds: 120 });
  try {
    await backend.up(dockerTestPlan(N, 1500));
    const loadgens = backend.components().filter((c) => c.role === 'loadgen');
    assert.equal(loadgens.length, 3);
    const ids = await backend.containerIds();
    assert.equal(ids.length, 3);
    const addresses = await Promise.all(ids.map(async (id) => Object.values((await docker.getContainer(id).inspect()).NetworkSettings.Networks)[0]!.IPAddress));
    assert.deepEqual([...addresses].sort(), ['172.29.0.100', '172.29.0.101', '172.29.0.102']);
    assert.deepEqual(loadgens.map((l) => l.url).sort(), [...addresses].sort().map((a) => `http://${a}:9100`));

    for (const l of loadgens) {
      const res = await fetch(`${l.url}/ramp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${l.token}` }, body: JSON.stringify({ target: N / 3, rate: 500 }) });
      assert.equal(res.status, 200, await res.text());
    }
    const server = backend.components().find((c) => c.role === 'server')!;
    await waitFor(`${N} connections on the server`, async () => {
      const s = (await (await fetch(`${server.url}/stats`)).json()) as { open: { total: number } };
      return s.open.total >= N;
    }, 60_000, { everyMs: 500, retryErrors: true });

    // The probe against `docker stats` of the same moment: the probe is read every 200 ms through the CLI's 2.5 s
    // window, in a window where memory moved less than 5% (the server's idle GC drops it 12-15 MiB a few seconds
    // after the ramp: see docker-stats-cli.ts), and docker stats must lie among those readings (2% or 1 MiB slack).
    const names = [backend.lab!.serverName, ...ids]; // Compose v1 names it <project>_server_1, v2 <project>-server-1
    for (let i = 0; i < names.length; i++) {
      const name = i === 0 ? names[0]! : (await docker.getContainer(names[i]!).inspect()).Name.slice(1);
      const component = backend.components().find((c) => (i === 0 ? c.role === 'server' : name.endsWith(c.name)))!;
      const first = await component.probe.read();
      assert.equal(first.method, 'docker-stats');
      assert.ok(first.cpuSeconds! > 0);
      assert.ok(first.kernelSocketBytes === undefined || first.kernelSocketBytes >= 0);
      const r = await windowedDockerStats(name, async () => (await component.probe.read()).workingSetBytes);
      const mib = (b: number) => `${(b / MIB).toFixed(1)} MiB`;
      const what = `${name}: probe ${mib(r.min)}-${mib(r.max)} over ${r.readings} readings, docker stats ${mib(r.cli)} in the same window`;
      assert.ok(r.max / r.min <= 1.05, `memory never held within 5% for a reading: ${what}`);
      assert.ok(withinWindow(r.cli, r.min, r.max), what);
    }

    // A load generator that dies is reported, with its exit code.
    await docker.getContainer(ids[0]!).kill();
    const died = loadgens.find((l) => l.url.includes(addresses[0]!))!;
    const why = await waitFor('the exit to be seen', async () => died.exited(), 10_000, { everyMs: 500, retryErrors: true });
    assert.match(why, /exited with code 137/);
  } finally {
    await backend.stop();
  }
  assert.deepEqual(await backend.containerIds(), []);
});

test('extra source addresses inside the containers: every address carries connections', async () => {
  const backend = new DockerBackend({ project: PROJECT, minContainers: 2, addressesPerContainer: 2, durationSeconds: 60 });
  const n = 2000;
  try {
    await backend.up(dockerTestPlan(n, 1500));
    const loadgens = backend.components().filter((c) => c.role === 'loadgen');
    assert.equal(loadgens.length, 2);
    for (const l of loadgens) {
      await fetch(`${l.url}/ramp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${l.token}` }, body: JSON.stringify({ target: n / 2, rate: 500 }) });
    }
    const server = backend.components().find((c) => c.role === 'server')!;
    await waitFor(`${n} connections`, async () => ((await (await fetch(`${server.url}/stats`)).json()) as { open: { total: number } }).open.total >= n, 30_000, { everyMs: 500, retryErrors: true });
    // Count established sockets by local address inside each container's namespace, from the host.
    const perAddress = new Map<string, number>();
    for (const id of await backend.containerIds()) {
      const pid = (await docker.getContainer(id).inspect()).State.Pid;
      const ss = execFileSync('nsenter', ['-t', String(pid), '-n', 'ss', '-Htn', 'state', 'established', '( dport = :8000 )'], { encoding: 'utf8' });
      for (const line of ss.trim().split('\n').filter(Boolean)) {
        const local = line.trim().split(/\s+/)[2]!.split(':')[0]!;
        perAddress.set(local, (perAddress.get(local) ?? 0) + 1);
      }
    }
    assert.deepEqual([...perAddress.keys()].sort(), ['172.29.0.100', '172.29.0.101', '172.29.0.102', '172.29.0.103']);
    assert.equal([...perAddress.values()].reduce((a, b) => a + b, 0), n);
    for (const [ip, count] of perAddress) assert.ok(count >= n / 8, `${ip} carries ${count}`);
  } finally {
    await backend.stop();
  }
});

test('a death is still seen after the event stream has been silent longer than the client timeout', async () => {
  // connectDocker's client gives up on a request silent for its timeout (30 s there, 2 s here); an event stream is
  // silent for as long as nothing dies. The watch must see a death that comes after such a silence.
  const impatient = new Dockerode({ socketPath: '/var/run/docker.sock', timeout: 2000 });
  const watch = new DockerExitWatch(impatient);
  await watch.start();
  const c = await docker.createContainer({
    Image: IMAGE,
    Entrypoint: ['node', '-e', 'setTimeout(() => process.exit(7), 5000)'],
    Labels: { 'comet-lab.lab': PROJECT, 'comet-lab.role': 'test' },
  });
  try {
    watch.watch(c.id);
    await c.start();
    const why = await waitFor('the exit after 5 s of silence', async () => watch.exited(c.id), 20_000, { everyMs: 500, retryErrors: true });
    assert.match(why, /exited with code 7/);
  } finally {
    watch.stop();
    await c.remove({ force: true }).catch(() => undefined);
  }
});

test('an OOM-killed container is reported as such', async () => {
  const watch = new DockerExitWatch(docker);
  await watch.start();
  const c = await docker.createContainer({
    Image: IMAGE,
    Entrypoint: ['node', '-e', 'const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 20)'],
    Labels: { 'comet-lab.lab': PROJECT, 'comet-lab.role': 'test' },
    HostConfig: { Memory: 64 * MIB, MemorySwap: 64 * MIB },
  });
  try {
    watch.watch(c.id);
    await c.start();
    const why = await waitFor('the OOM kill', async () => watch.exited(c.id), 30_000, { everyMs: 500, retryErrors: true });
    assert.match(why, /OOM-killed/);
  } finally {
    watch.stop();
    await c.remove({ force: true });
  }
});

test('no engine, or an engine that refuses: LAB_ERR_NO_DOCKER with the preflight exit code', async () => {
  await assert.rejects(connectDocker({ socketPath: '/nonexistent/docker.sock' }), (e: Error & { code?: string; exitCode?: number }) => {
    assert.equal(e.code, 'LAB_ERR_NO_DOCKER');
    assert.equal(e.exitCode, 3);
    return true;
  });
  const path = `/tmp/comet-lab-refuse-${process.pid}.sock`;
  const refuser = createServer((s) => s.destroy()).listen(path);
  try {
    await assert.rejects(connectDocker({ socketPath: path, timeoutMs: 2000 }), /does not answer/);
  } finally {
    refuser.close();
    rmSync(path, { force: true });
  }
});

test('a subnet already taken: a clear message, and nothing of the lab left behind', async () => {
  const env = { ...ENV, COMET_LAB_PROJECT: `${PROJECT}b`, COMET_LAB_SUBNET: '172.29.0.0/16', COMET_LAB_SERVER_PORT: '28001', COMET_LAB_PROMETHEUS_PORT: '29091', COMET_LAB_GRAFANA_PORT: '23001' };
  const r = await sh('scripts/lab-up.sh', env);
  assert.equal(r.code, 3, r.out);
  assert.match(r.out, /LAB_ERR_SUBNET_TAKEN/);
  assert.equal((await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${PROJECT}b`] } })).length, 0);
  assert.equal((await docker.listNetworks({ filters: { name: [`${PROJECT}b_lab`] } })).length, 0);
});

test('lab-down removes every lab container, the network and the volume; again, it says nothing is up', async () => {
  // A container the orchestrator would have made, left behind on purpose: lab-down must find it by label.
  const lab = (await docker.listNetworks({ filters: { name: [`${PROJECT}_lab`] } }))[0];
  assert.ok(lab);
  const stray = await docker.createContainer({
    Image: IMAGE,
    Entrypoint: ['node', '-e', 'setTimeout(() => {}, 60000)'],
    Labels: { 'comet-lab.lab': PROJECT, 'comet-lab.role': 'loadgen' },
    HostConfig: { NetworkMode: lab.Name },
  });
  await stray.start();
  const down = await sh('scripts/lab-down.sh');
  assert.equal(down.code, 0, down.out);
  assert.equal(await labContainers(), 0);
  assert.equal(await hasNetwork(), false);
  assert.equal(await hasVolume(), false);
  const again = await sh('scripts/lab-down.sh');
  assert.match(again.out, /nothing to take down/);
});

test('lab-up changes host-wide sysctls only with a record: lab-down puts them back and says so', async () => {
  // A profile of one's own raising fs.nr_open by 64 (harmless, and restored): the tuner saves the old value on the
  // host, lab-down restores it, names it, and removes the lab's state folder (secrets included).
  const dir = mkdtempSync(join(tmpdir(), 'comet-lab-profile-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'comet-lab-state-'));
  const nrOpen = readFileSync('/proc/sys/fs/nr_open', 'utf8').trim();
  const raised = String(Number(nrOpen) + 64);
  writeFileSync(join(dir, 'raise.conf'), `# host: test\nfs.nr_open = ${raised}\n`);
  const env = { ...ENV, COMET_LAB_TUNE: 'apply', COMET_LAB_PROFILE: '/lab/profiles/raise.conf', COMET_LAB_PROFILE_DIR: dir, COMET_LAB_STATE_DIR: stateDir };
  try {
    const up = await sh('scripts/lab-up.sh', env);
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`tuner: fs.nr_open = ${raised} \\(was ${nrOpen}\\)`));
    assert.equal(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim(), raised);
    const saved = JSON.parse(readFileSync(join(stateDir, PROJECT, 'sysctl-saved.json'), 'utf8'));
    assert.deepEqual(saved.saved, { 'fs.nr_open': nrOpen });
    // the admin token is random, root-only, and is what the server container runs with
    const token = readFileSync(join(stateDir, PROJECT, 'admin-token'), 'utf8').trim();
    assert.ok(token.length >= 24 && token !== 'comet-lab', token);
    assert.notEqual(readFileSync(join(stateDir, PROJECT, 'grafana-password'), 'utf8').trim(), token);
    const down = await sh('scripts/lab-down.sh', env);
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, new RegExp(`restored +fs\\.nr_open: ${raised} -> ${nrOpen}`));
    assert.equal(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim(), nrOpen);
    assert.equal(existsSync(join(stateDir, PROJECT)), false, 'state folder removed');
  } finally {
    writeFileSync('/proc/sys/fs/nr_open', `${nrOpen}\n`); // whatever happened above
    await sh('scripts/lab-down.sh', env);
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
