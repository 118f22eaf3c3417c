/**
 * The swarm backend against a real two-node swarm on this machine (the main engine as manager, a second dockerd in
 * a network namespace of its own as worker; testing/two-node-swarm.ts): `lab-up BACKEND=swarm` (images loaded into
 * the second node over its engine API, overlay, tuner on both nodes), a 20,000-connection flood whose load generators
 * run on both nodes (counts against `ss` in every container's namespace, memory against each engine's `docker
 * stats`, the report per node), a replica whose image is missing on its node, `lab-down` restoring the tuning, and a
 * flood during which the second node's engine is killed. Everything is removed afterwards (also after a failure), and
 * what a killed earlier run left is swept first. Runs under `flock /tmp/comet-lab-docker.lock`; about 3 minutes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { loadProfile } from '../../../kernel/profile.ts';
import { resolveFloodConfig } from '../../config/flood-config.ts';
import { flood, type FloodHooks } from '../../flood.ts';
import type { RunSample } from '../../run/sample.ts';
import { windowedDockerStats, withinWindow } from '../docker/docker-stats-cli.ts';
import { SwarmBackend } from './swarm-backend.ts';
import { labelNode, startTwoNodeSwarm, sweepSwarmLeftovers, testProject, type TwoNodeSwarm } from './testing/two-node-swarm.ts';

const run = promisify(execFile);
const PROJECT = testProject();
const N = 20_000;
const out = mkdtempSync(join(tmpdir(), 'comet-lab-swarm-'));
const fileMax = () => readFileSync('/proc/sys/fs/file-max', 'utf8').trim();
const FILE_MAX = fileMax();
let swarm: TwoNodeSwarm;
let env: NodeJS.ProcessEnv;
const noDocker = (() => {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'no docker CLI here (scripts/install-system-deps.sh installs docker.io)';
  }
})();

async function sh(script: string, extra: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run('bash', [script], { env: { ...env, ...extra }, timeout: 400_000, maxBuffer: 1 << 24 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** Established TCP connections in a container's network namespace, by the port on one side. */
function established(pid: number, filter: string): number {
  const text = execFileSync('nsenter', ['-t', String(pid), '-n', 'ss', '-Htn', 'state', 'established', filter], { encoding: 'utf8' });
  return text.split('\n').filter(Boolean).length;
}

const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env });

before(async () => {
  if (noDocker) return;
  await run('bash', ['scripts/start-dockerd.sh'], { timeout: 120_000 });
  swarm = await startTwoNodeSwarm();
  // The server on the manager, labelled as a user would: docker node update --label-add comet-lab.role=server <node>.
  await labelNode(swarm.manager, swarm.managerName, { 'comet-lab.role': 'server' });
  // A profile whose one host-wide line raises fs.file-max by one (harmless; lab-down must put it back), with c1m's
  // per-namespace lines for the containers.
  const profile = join(out, 'swarm-test.conf');
  const netns = loadProfile('c1m').settings.filter((s) => s.scope === 'netns').map((s) => `# netns: as c1m\n${s.key} = ${s.value}`);
  writeFileSync(profile, [`# host: test: one more than now, restored by lab-down`, `fs.file-max = ${Number(FILE_MAX) + 1}`, ...netns, ''].join('\n'));
  env = {
    ...process.env,
    COMET_LAB_BACKEND: 'swarm',
    COMET_LAB_PROJECT: PROJECT,
    COMET_LAB_IMAGE_TAG: PROJECT,
    COMET_LAB_NODE_ENGINES: `${swarm.nodeName}=${swarm.nodeEngine}`,
    COMET_LAB_PROFILE: profile,
    COMET_LAB_STATE_DIR: join(out, 'state'),
    COMET_LAB_PULL_TIMEOUT: '3',
    LAB_SWARM_LOADGENS_ON: 'all',
    COMET_WORKERS: '2',
    COMET_MAX_CONNECTIONS: String(N),
    COMET_INTERVAL: '1s',
  };
}, { timeout: 300_000 });

after(async () => {
  if (noDocker) return;
  await sh('scripts/lab-down.sh').catch(() => undefined);
  await swarm?.stop();
  rmSync(out, { recursive: true, force: true });
  const info = execFileSync('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'], { encoding: 'utf8' }).trim();
  assert.equal(info, 'inactive', 'the main engine is left out of swarm mode');
  assert.equal(existsSync(swarm?.dir ?? '/nonexistent'), false);
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /clsw-/);
}, { timeout: 120_000 });

test('lab-up BACKEND=swarm: images into the second node, the overlay, the tuner on both nodes, the server on the labelled node', { skip: noDocker, timeout: 300_000 }, async () => {
  const r = await sh('scripts/lab-up.sh');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`images: ${swarm.nodeName}: loaded comet-lab/server:${PROJECT}, comet-lab/loadgen:${PROJECT}, comet-lab/tuner:${PROJECT} \\(\\d+ MiB in [\\d.]+ s`));
  assert.match(r.out, /tuner on vm|tuner on \S+: complete/);
  assert.equal((r.out.match(/tuner on \S+: complete/g) ?? []).length, 2, r.out);
  assert.equal(fileMax(), String(Number(FILE_MAX) + 1), 'the tuner raised fs.file-max');
  assert.match(r.out, /is up on the swarm: server on \S+ at 10\.212\.\d+\.\d+:8000/);
  for (const image of [`comet-lab/server:${PROJECT}`, `comet-lab/loadgen:${PROJECT}`]) {
    assert.equal((await swarm.node.getImage(image).inspect()).Id, (await swarm.manager.getImage(image).inspect()).Id, `${image} on the second node`);
  }
  const net = await swarm.manager.getNetwork(`${PROJECT}_swarm`).inspect();
  assert.equal(net.Driver, 'overlay');
  assert.equal(net.Attachable, true);
  assert.equal(net.IPAM?.Config?.[0]?.Subnet, '10.212.0.0/16');
  const svc = (await swarm.manager.listServices({ filters: { name: [`${PROJECT}_server`] } }))[0]!;
  assert.equal(svc.Spec?.EndpointSpec?.Mode, 'dnsrr');
  // The server's admin token: random per lab, kept root-only on the manager, and what the service runs with.
  const token = readFileSync(join(out, 'state', PROJECT, 'admin-token'), 'utf8').trim();
  assert.ok(token.length >= 24, token);
  assert.ok((svc.Spec?.TaskTemplate as { ContainerSpec?: { Env?: string[] } }).ContainerSpec?.Env?.includes(`COMET_ADMIN_TOKEN=${token}`));
  const [task] = (await swarm.manager.listTasks({ filters: { service: [svc.ID], 'desired-state': ['running'] } })) as Array<{ NodeID: string; Status: { ContainerStatus: { ContainerID: string } } }>;
  const container = await swarm.manager.getContainer(task!.Status.ContainerStatus.ContainerID).inspect();
  assert.deepEqual(container.HostConfig.Ulimits, [{ Name: 'nofile', Soft: 20000, Hard: 20000 }]);
  assert.equal(container.HostConfig.Sysctls?.['net.core.somaxconn'], '65535');
  assert.equal(container.HostConfig.Sysctls?.['net.ipv4.ip_local_port_range'], '10240 65535');
  const again = await sh('scripts/lab-up.sh');
  assert.match(again.out, /already up/);
  // The plan per node, as `plan --backend swarm` prints it from the engine's node list.
  const plan = await run(process.execPath, ['orchestrator/cli.ts', 'plan', '--backend', 'swarm', '--n', String(N)], { env });
  assert.match(plan.stdout + plan.stderr, /nodes: 2/);
  assert.match(plan.stdout + plan.stderr, new RegExp(`${swarm.nodeName}: 2 cores, \\d+ MiB; 1 load generator\\(s\\): loadgen-\\d; expected \\d+ MiB`));
  assert.match(plan.stdout + plan.stderr, /server \(2 workers\) \+ 1 load generator\(s\)/);
});

test(`a ${N.toLocaleString('en-US')}-connection flood on both nodes: counts as ss sees them, memory as each engine's docker stats sees it, the report per node`, { skip: noDocker, timeout: 240_000 }, async () => {
  const seen: { sample?: RunSample; checks?: Promise<void>; backend?: SwarmBackend } = {};
  const problems: string[] = [];
  const hooks: FloodHooks = {
    backend: (_plan, runId) => (seen.backend = new SwarmBackend({ runId, env })),
    onRun(r) {
      let holds = 0;
      r.on('sample', (s: RunSample) => {
        if (s.phase !== 'hold' || ++holds !== 2) return;
        seen.sample = s;
        seen.checks = (async () => {
          const engines = { [swarm.managerName]: { docker: swarm.manager, host: undefined }, [swarm.nodeName]: { docker: swarm.node, host: swarm.nodeEngine } };
          const found = [];
          for (const c of r.backend.components()) {
            const e = engines[c.node!]!;
            const list = await e.docker.listContainers({ filters: { label: c.role === 'server' ? [`comet-lab.lab=${PROJECT}`, 'comet-lab.role=server'] : [`comet-lab.run=${seen.backend!.runId}`] } });
            const mine = await Promise.all(list.map((x) => e.docker.getContainer(x.Id).inspect()));
            const info = mine.find((i) => c.role === 'server' || i.Config.Env.includes(`COMET_LAB_TASK_SLOT=${c.name.split('-')[1]}`))!;
            found.push({ c, e, info });
            // Counted by the kernel inside each container's own network namespace, on whichever node it runs.
            const count = established(info.State.Pid, c.role === 'server' ? '( sport = :8000 )' : '( dport = :8000 )');
            const want = c.role === 'server' ? N : N / 2;
            // The server also holds the gateway's API connections (the sampler's keep-alive): a few more.
            if (c.role === 'server' ? count < want || count > want + 8 : count !== want) problems.push(`${c.name} on ${c.node}: ss counts ${count}, expected ${want}`);
          }
          // Then memory: `docker stats` of each node's own engine, against the component's own readings of that window.
          for (const { c, e, info } of found) {
            const w = await windowedDockerStats(info.Name.slice(1), async () => (await c.probe.read()).workingSetBytes, 3, 0.1, e.host);
            if (!withinWindow(w.cli, w.min, w.max)) problems.push(`${c.name} on ${c.node}: docker stats ${w.cli} outside its own readings ${w.min}..${w.max}`);
          }
        })();
      });
    },
  };
  const config = resolveFloodConfig({ n: String(N), rate: '4000', holdSeconds: '20s', intervalSeconds: '1s', backend: 'swarm', out, stallSeconds: '30s', sendsRate: '200', sendsSeconds: '3s', broadcast: true }, env);
  const result = await flood(config, io(), hooks);
  await seen.checks;
  assert.deepEqual(problems, []);
  assert.equal(result.exitCode, 0, JSON.stringify(result.summary?.incomplete));
  const s = result.summary!;
  assert.equal(s.reached.client, N);
  assert.equal(s.reached.server, N);
  // Sends and the broadcast go through the gateway to the server on the overlay, with the lab's token.
  assert.ok(s.sends!.accepted! > 0 && s.sends!.non2xx === 0, `sends: ${JSON.stringify(s.sends)}`);
  assert.ok(s.broadcast?.complete && s.broadcast.expected === N, `broadcast: ${JSON.stringify(s.broadcast)}`);
  // Load generators on both nodes, one each (LAB_SWARM_LOADGENS_ON=all, at most ceil(2/2) per node).
  assert.deepEqual(result.plan.loadgens.map((l) => l.node).sort(), [swarm.managerName, swarm.nodeName].sort());
  assert.deepEqual(s.nodes!.map((x) => x.node).sort(), [swarm.managerName, swarm.nodeName].sort());
  for (const n of s.nodes!) {
    assert.ok(n.holdBytes! > 30 * 2 ** 20, `${n.node}: ${n.holdBytes}`);
    assert.ok(Math.abs(n.holdBytes! - n.crossCheckHoldBytes!) / n.crossCheckHoldBytes! < 0.05, `${n.node}: inside ${n.holdBytes} vs engine ${n.crossCheckHoldBytes}`);
  }
  assert.equal(s.memory.loadgen.method, 'cgroup-v1-inside');
  const md = readFileSync(join(result.reportDir!, 'report.md'), 'utf8');
  assert.match(md, /### Per node/);
  assert.match(md, new RegExp(`\\| ${swarm.nodeName} \\| loadgen-\\d \\|`));
  assert.deepEqual(await seen.backend!.runServices(), []);
});

test('a replica whose image is missing on its node: up() fails naming that node, and leaves nothing', { skip: noDocker, timeout: 120_000 }, async () => {
  await swarm.manager.getImage(`comet-lab/loadgen:${PROJECT}`).tag({ repo: 'comet-lab/loadgen', tag: `only-manager-${process.pid}` });
  const backend = new SwarmBackend({ runId: `missing-${process.pid}`, env, image: `comet-lab/loadgen:only-manager-${process.pid}`, readyTimeoutMs: 60_000 });
  try {
    const plan = (await import('../../plan/make-swarm-plan.ts')).makeSwarmFloodPlan(resolveFloodConfig({ n: '2000', backend: 'swarm' }, env), env);
    await assert.rejects(backend.up(await plan), (e: Error) => {
      assert.match(e.message, new RegExp(`cannot start on node ${swarm.nodeName}: (rejected|failed): .*(No such image|not found|pull)`, 'i'));
      return true;
    });
    assert.deepEqual(await backend.runServices(), []);
  } finally {
    await backend.stop();
    await swarm.manager.getImage(`comet-lab/loadgen:only-manager-${process.pid}`).remove().catch(() => undefined);
  }
});

test('lab-down: services, gateway, configs and network gone; the tuning restored on every node', { skip: noDocker, timeout: 180_000 }, async () => {
  const r = await sh('scripts/lab-down.sh');
  assert.equal(r.code, 0, r.out);
  assert.equal((r.out.match(/untune on \S+: complete/g) ?? []).length, 2, r.out);
  assert.equal(fileMax(), FILE_MAX, 'fs.file-max is back');
  assert.equal((await swarm.manager.listServices({ filters: { label: [`comet-lab.lab=${PROJECT}`] } })).length, 0);
  assert.equal((await swarm.manager.listConfigs({ filters: { label: [`comet-lab.lab=${PROJECT}`] } })).length, 0);
  assert.equal((await swarm.manager.listNetworks({ filters: { name: [`${PROJECT}_swarm`] } })).length, 0);
  for (const engine of [swarm.manager, swarm.node]) {
    assert.deepEqual((await engine.listContainers({ all: true, filters: { label: [`comet-lab.lab=${PROJECT}`] } })).map((c) => c.Names[0]), []);
  }
  assert.equal(existsSync(join(out, 'state', PROJECT, 'admin-token')), false, 'the lab secret goes with the lab');
  assert.match((await sh('scripts/lab-down.sh')).out, /not up: nothing to take down/);
});

test("the second node's engine killed mid-run: the run stops naming the node, the report is incomplete; lab-down says what it could not do", { skip: noDocker, timeout: 300_000 }, async () => {
  const up = await sh('scripts/lab-up.sh', { COMET_LAB_TUNE: 'skip' });
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, new RegExp(`images: ${swarm.nodeName}: already has them`));
  let killed = false;
  const hooks: FloodHooks = {
    backend: (_plan, runId) => new SwarmBackend({ runId, env: { ...env, COMET_LAB_TUNE: 'skip' } }),
    onRun(r) {
      r.on('sample', (s: RunSample) => {
        if (s.phase === 'hold' && !killed) {
          killed = true;
          void swarm.killNodeEngine();
        }
      });
    },
  };
  const config = resolveFloodConfig({ n: '4000', rate: '4000', holdSeconds: '60s', intervalSeconds: '1s', backend: 'swarm', out, stallSeconds: '20s' }, env);
  const t0 = Date.now();
  const result = await flood(config, io(), hooks);
  assert.equal(result.exitCode, 1);
  assert.ok(Date.now() - t0 < 50_000, 'the run stopped well before its 60 s hold ended');
  const s = result.summary!;
  assert.equal(s.complete, false);
  assert.match(s.incomplete!, new RegExp(`node ${swarm.nodeName} \\(10\\.237\\.0\\.2\\) is (down|unknown)`));
  assert.ok(s.backendEvents!.some((e) => e.what.includes(`node ${swarm.nodeName}`)), JSON.stringify(s.backendEvents));
  assert.match(readFileSync(join(result.reportDir!, 'report.md'), 'utf8'), new RegExp(`INCOMPLETE.*node ${swarm.nodeName}`));
  const down = await sh('scripts/lab-down.sh', { COMET_LAB_TUNE: 'skip' });
  assert.match(down.out, new RegExp(`node ${swarm.nodeName} is (down|unknown)`));
  assert.equal((await swarm.manager.listServices({ filters: { label: [`comet-lab.lab=${PROJECT}`] } })).length, 0);
});

test("what a killed run left is swept by the next: namespace, veth, folder, a test swarm labelled with the dead pid", { skip: noDocker, timeout: 240_000 }, async () => {
  // Runs last: the swarm above is gone first (its own stop), then a dead run's leftovers are made by hand.
  await swarm.stop();
  const dead = Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
  const tag = `clsw-${dead}`;
  execFileSync('ip', ['netns', 'add', tag]);
  execFileSync('ip', ['link', 'add', `clsw${dead}a`, 'type', 'veth', 'peer', 'name', `clsw${dead}b`]);
  execFileSync('mkdir', ['-p', `/tmp/${tag}/data`]);
  await swarm.manager.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
  const spec = (await swarm.manager.swarmInspect()) as { Version: { Index: number }; Spec: object };
  await swarm.manager.swarmUpdate({ _query: { version: spec.Version.Index }, _body: { ...spec.Spec, Labels: { 'comet-lab.test-swarm': String(dead) } } });
  const swept = await sweepSwarmLeftovers(swarm.manager);
  assert.ok(swept.includes(tag), swept.join());
  assert.equal(((await swarm.manager.info()) as { Swarm: { LocalNodeState: string } }).Swarm.LocalNodeState, 'inactive');
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(tag));
  assert.doesNotMatch(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' }), new RegExp(`clsw${dead}a`));
  assert.equal(existsSync(`/tmp/${tag}`), false);
});
