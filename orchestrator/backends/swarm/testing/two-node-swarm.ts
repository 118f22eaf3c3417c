/**
 * A real two-node Docker swarm on one machine, for the swarm tests: the main engine is the manager; a second dockerd
 * runs in a network namespace of its own (`ip netns add`, a veth pair with an address at each end) and a UTS
 * namespace of its own (so the two nodes have different host names), with its own data root, exec root and socket,
 * and joins over the veth. Measured on this machine kind: `ip netns exec` cannot start it (its fresh /sys has no
 * cgroup mounts), `nsenter --net=` can; VXLAN overlays work between the two; IPVS is not built in this kernel.
 *
 * Everything is named after the test process (`clsw-<pid>`): `sweepSwarmLeftovers()` removes what a killed run left
 * (the engine and its containerd, shims and containers, mounts, data, namespace, veth, and the main engine's swarm
 * membership when the swarm carries the dead run's label). The main engine is shared with other engineers' Docker
 * tests: hold `flock /tmp/comet-lab-docker.lock` around all of this, and never leave it in swarm mode.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import type { LabError } from '../../../../shared/errors.ts';
import { requireGossip } from '../swarm-nodes.ts';
import { waitFor } from '../../../../shared/testing/wait-for.ts';
import { alive } from '../../../../shared/testing/processes.ts';

const run = promisify(execFile);
const PREFIX = 'clsw-';
/** A /30 on the veth pair: the manager's end and the node's end. One swarm at a time (under the docker lock). */
export const MANAGER_ADDR = '10.237.0.1';
export const NODE_ADDR = '10.237.0.2';
/** Swarm spec label that marks a swarm made by these tests, with the pid that made it. */
export const TEST_SWARM_LABEL = 'comet-lab.test-swarm';
/** The lab project (COMET_LAB_PROJECT) a test run uses: its containers and volumes on the main engine carry it. */
export const testProject = (pid = process.pid) => `clsw${pid}`;

export interface TwoNodeSwarm {
  tag: string;
  netns: string;
  dir: string;
  /** The second engine's API socket (unix://...). */
  nodeEngine: string;
  /** Host names of the two swarm nodes. */
  managerName: string;
  nodeName: string;
  manager: Dockerode;
  node: Dockerode;
  /** SIGKILLs the second node's dockerd and containerd, as a lost machine: its containers keep running orphaned. */
  killNodeEngine(): Promise<void>;
  /** Removes everything: services, the swarm membership of both engines, the second engine, namespace, veth, data. */
  stop(): Promise<void>;
}

const sh = async (cmd: string, args: string[], timeout = 30_000) => (await run(cmd, args, { timeout, maxBuffer: 1 << 24 })).stdout;
const quiet = async (cmd: string, args: string[]) => sh(cmd, args).catch(() => '');

/** Pids whose command line mentions `needle` (the run's folder: dockerd, its containerd and shims). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'latin1').includes(needle)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The processes of the second engine's containers (by their cgroups, from the engine's own container list on disk). */
function killNodeContainers(dir: string): void {
  const containers = join(dir, 'data', 'containers');
  if (!existsSync(containers)) return;
  for (const id of readdirSync(containers)) {
    for (const ctl of readdirSync('/sys/fs/cgroup')) {
      const cg = join('/sys/fs/cgroup', ctl, 'docker', id);
      const procs = join(cg, 'cgroup.procs');
      if (!existsSync(procs)) continue;
      killAll(readFileSync(procs, 'latin1').split('\n').filter(Boolean).map(Number));
    }
  }
}

async function removeNodeCgroups(dir: string): Promise<void> {
  const containers = join(dir, 'data', 'containers');
  if (!existsSync(containers)) return;
  for (const id of readdirSync(containers)) {
    for (const ctl of readdirSync('/sys/fs/cgroup')) {
      const cg = join('/sys/fs/cgroup', ctl, 'docker', id);
      for (let i = 0; i < 20 && existsSync(cg); i++) {
        try {
          rmdirSync(cg);
        } catch {
          await sleep(100);
        }
      }
    }
  }
}

/** Unmounts everything under `dir`, deepest first (overlay2 layers, container netns and shm mounts). */
async function unmountUnder(dir: string): Promise<void> {
  const points = readFileSync('/proc/self/mountinfo', 'latin1')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && p.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await quiet('umount', ['-l', p]);
}

async function leaveTestSwarm(manager: Dockerode, onlyPid?: number): Promise<boolean> {
  const info = (await manager.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState !== 'active') return false;
  let label: string | undefined;
  try {
    const swarm = (await manager.swarmInspect()) as { Spec?: { Labels?: Record<string, string> } };
    label = swarm.Spec?.Labels?.[TEST_SWARM_LABEL];
  } catch {
    return false; // a worker of someone else's swarm: not ours
  }
  if (label === undefined) return false; // a user's swarm: never touched
  if (onlyPid !== undefined ? Number(label) !== onlyPid : alive(Number(label))) return false;
  for (const s of await manager.listServices()) await manager.getService(s.ID).remove().catch(() => undefined);
  await manager.swarmLeave({ force: true });
  // swarm init made docker_gwbridge (and ingress, gone with the swarm): the engine had neither before.
  for (let i = 0; i < 20; i++) {
    try {
      await manager.getNetwork('docker_gwbridge').remove();
      break;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) break;
      await sleep(250);
    }
  }
  return true;
}

/**
 * The lab's standalone containers (gateways), volumes (tuner state) and images a run left on the main engine: a test's
 * lab builds its images under its own tag (COMET_LAB_IMAGE_TAG=<project>), so that another checkout's `lab-up` on the
 * same engine cannot swap them under it.
 */
async function removeProjectObjects(manager: Dockerode, project: string): Promise<void> {
  for (const role of ['server', 'loadgen', 'tuner']) await manager.getImage(`comet-lab/${role}:${project}`).remove().catch(() => undefined);
  for (const c of await manager.listContainers({ all: true, filters: { label: [`comet-lab.lab=${project}`] } })) {
    await manager.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  for (const v of (await manager.listVolumes()).Volumes ?? []) {
    if (v.Name.startsWith(`${project}_`)) await manager.getVolume(v.Name).remove().catch(() => undefined);
  }
}

/** Removes what the run `tag` made on this machine (engine, namespace, veth, data), and the test swarm if it is gone. */
async function removeRun(tag: string, manager: Dockerode, ownerPid: number): Promise<void> {
  const dir = `/tmp/${tag}`;
  await leaveTestSwarm(manager, ownerPid).catch(() => false);
  await removeProjectObjects(manager, testProject(ownerPid)).catch(() => undefined);
  killAll(pidsMentioning(`${dir}/`));
  killNodeContainers(dir);
  const ns = tag;
  const nsPids = (await quiet('ip', ['netns', 'pids', ns])).split('\n').filter(Boolean).map(Number);
  killAll(nsPids);
  await sleep(300);
  await removeNodeCgroups(dir);
  await unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
  await quiet('ip', ['netns', 'del', ns]);
  await quiet('ip', ['link', 'del', `${tag.replace(PREFIX, 'clsw')}a`]);
}

/** Leftovers of killed runs (named clsw-<pid>, pid gone): removed. Returns what was swept. */
export async function sweepSwarmLeftovers(manager: Dockerode = new Dockerode()): Promise<string[]> {
  const tags = new Set<string>();
  for (const n of (await quiet('ip', ['netns', 'list'])).split('\n')) {
    const name = n.split(' ')[0];
    if (name?.startsWith(PREFIX)) tags.add(name);
  }
  for (const d of readdirSync('/tmp')) if (d.startsWith(PREFIX)) tags.add(d);
  const swept: string[] = [];
  for (const tag of tags) {
    const pid = Number(tag.slice(PREFIX.length));
    if (!Number.isInteger(pid) || alive(pid)) continue;
    await removeRun(tag, manager, pid);
    swept.push(tag);
  }
  // A test swarm whose maker is gone, without any folder left (killed between leaving and cleaning).
  if (await leaveTestSwarm(manager).catch(() => false)) swept.push('test swarm on the main engine');
  // Gateways and volumes of projects whose test process is gone.
  const projects = new Set<number>();
  for (const c of await manager.listContainers({ all: true, filters: { label: ['comet-lab.lab'] } })) {
    const m = /^clsw(\d+)$/.exec(c.Labels['comet-lab.lab'] ?? '');
    if (m) projects.add(Number(m[1]));
  }
  for (const v of (await manager.listVolumes()).Volumes ?? []) {
    const m = /^clsw(\d+)_/.exec(v.Name);
    if (m) projects.add(Number(m[1]));
  }
  for (const image of await manager.listImages({ filters: { reference: ['comet-lab/*'] } })) {
    for (const t of image.RepoTags ?? []) {
      const m = /:clsw(\d+)$/.exec(t);
      if (m) projects.add(Number(m[1]));
    }
  }
  for (const pid of projects) {
    if (alive(pid)) continue;
    await removeProjectObjects(manager, testProject(pid));
    swept.push(`containers and volumes of ${testProject(pid)}`);
  }
  return swept;
}

async function waitEngine(docker: Dockerode, what: string, logFile: string, ms = 60_000): Promise<void> {
  await waitFor(`${what} to answer`, async () => (await docker.ping(), true), ms, {
    everyMs: 250,
    retryErrors: true,
    describe: () => `\n${existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : ''}`,
  });
}

/** Adds labels to the node of that host name, as `docker node update --label-add` does (whole spec, current version). */
export async function labelNode(manager: Dockerode, hostname: string, labels: Record<string, string>): Promise<void> {
  const nodes = (await manager.listNodes()) as Array<{ ID: string; Description: { Hostname: string }; Version: { Index: number }; Spec: { Labels?: Record<string, string> } }>;
  const node = nodes.find((x) => x.Description.Hostname === hostname);
  if (!node) throw new Error(`no swarm node ${hostname}`);
  await manager.getNode(node.ID).update({ _query: { version: node.Version.Index }, _body: { ...node.Spec, Labels: { ...node.Spec.Labels, ...labels } } } as never);
}

/**
 * Makes the two-node swarm (sweeping a killed run's leftovers first) and checks that its engines gossip (the swarm
 * backend's own requireGossip). When the main engine came out of an earlier swarm with two network agents (the dockerd
 * race requireGossip describes: about one swarm in three in a full test run here), the swarm is removed, the main
 * dockerd restarted, and the swarm made once more.
 */
export async function startTwoNodeSwarm(): Promise<TwoNodeSwarm> {
  for (let attempt = 1; ; attempt++) {
    const swarm = await makeTwoNodeSwarm();
    try {
      await requireGossip(swarm.manager, 2);
      return swarm;
    } catch (err) {
      await swarm.stop();
      if (attempt > 1 || (err as LabError).code !== 'LAB_ERR_SWARM_GOSSIP') throw err;
      await restartMainEngine();
    }
  }
}

/** Stops the main dockerd (its pid file) and starts it again as the tests do (scripts/start-dockerd.sh). */
async function restartMainEngine(): Promise<void> {
  const pid = Number(readFileSync('/var/run/docker.pid', 'utf8'));
  process.kill(pid, 'SIGTERM');
  await waitFor('the main dockerd to stop', () => !alive(pid), 60_000, { everyMs: 200 });
  await sh('bash', [fileURLToPath(new URL('../../../../scripts/start-dockerd.sh', import.meta.url))], 120_000);
}

async function makeTwoNodeSwarm(): Promise<TwoNodeSwarm> {
  const manager = new Dockerode();
  await sweepSwarmLeftovers(manager);
  const mi = (await manager.info()) as { Swarm?: { LocalNodeState?: string }; Name: string };
  if (mi.Swarm?.LocalNodeState !== 'inactive') {
    throw new Error(`the main engine is already in a swarm (${mi.Swarm?.LocalNodeState}): the tests never touch a user's swarm`);
  }
  const tag = `${PREFIX}${process.pid}`;
  const dir = `/tmp/${tag}`;
  const veth = `clsw${process.pid}`;
  const nodeName = `${tag}-node`;
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'dockerd.log');
  const socket = join(dir, 'docker.sock');
  const stop = async () => removeRun(tag, manager, process.pid);
  try {
    await sh('ip', ['netns', 'add', tag]);
    await sh('ip', ['link', 'add', `${veth}a`, 'type', 'veth', 'peer', 'name', `${veth}b`]);
    await sh('ip', ['link', 'set', `${veth}b`, 'netns', tag]);
    await sh('ip', ['addr', 'add', `${MANAGER_ADDR}/30`, 'dev', `${veth}a`]);
    await sh('ip', ['link', 'set', `${veth}a`, 'up']);
    await sh('ip', ['-n', tag, 'addr', 'add', `${NODE_ADDR}/30`, 'dev', `${veth}b`]);
    await sh('ip', ['-n', tag, 'link', 'set', `${veth}b`, 'up']);
    await sh('ip', ['-n', tag, 'link', 'set', 'lo', 'up']);
    const dockerd = [
      'dockerd', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
      '-H', `unix://${socket}`, '--iptables=false', '--ip-masq=false', '--bridge=none',
    ].join(' ');
    const child = spawn('nsenter', [`--net=/var/run/netns/${tag}`, 'unshare', '--uts', '--', 'sh', '-c', `hostname ${nodeName} && exec ${dockerd} >>${logFile} 2>&1`], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    const node = new Dockerode({ socketPath: socket });
    await waitEngine(node, 'the second engine', logFile);

    await manager.swarmInit({ ListenAddr: `${MANAGER_ADDR}:2377`, AdvertiseAddr: MANAGER_ADDR });
    const swarm = (await manager.swarmInspect()) as {
      Version: { Index: number };
      Spec: Record<string, unknown> & { Labels?: Record<string, string>; Dispatcher?: Record<string, unknown> };
      JoinTokens: { Worker: string };
    };
    // The whole spec with the current version index, as every swarm update must be sent. A 1 s heartbeat (default
    // 5 s) lets the manager see a killed node go down within a few seconds instead of ~15.
    await manager.swarmUpdate({
      _query: { version: swarm.Version.Index },
      _body: { ...swarm.Spec, Labels: { ...swarm.Spec.Labels, [TEST_SWARM_LABEL]: String(process.pid) }, Dispatcher: { ...swarm.Spec.Dispatcher, HeartbeatPeriod: 1e9 } },
    });
    await node.swarmJoin({ ListenAddr: `${NODE_ADDR}:2377`, AdvertiseAddr: NODE_ADDR, RemoteAddrs: [`${MANAGER_ADDR}:2377`], JoinToken: swarm.JoinTokens.Worker });
    let nodes: Array<{ Status: { State: string } }> = [];
    await waitFor('the swarm to get two ready nodes', async () => {
      nodes = (await manager.listNodes()) as typeof nodes;
      return nodes.length === 2 && nodes.every((n) => n.Status.State === 'ready');
    }, 30_000, { everyMs: 250, describe: () => nodes.map((n) => n.Status) });
    return {
      tag,
      netns: tag,
      dir,
      nodeEngine: `unix://${socket}`,
      managerName: mi.Name,
      nodeName,
      manager,
      node,
      async killNodeEngine() {
        const shim = (p: number) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('containerd-shim');
          } catch {
            return true;
          }
        };
        killAll(pidsMentioning(`${dir}/`).filter((p) => !shim(p)));
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (import.meta.main) {
  // By hand (under the docker lock): `node two-node-swarm.ts sweep` removes what killed runs left.
  const swept = await sweepSwarmLeftovers();
  console.log(swept.length ? `swept: ${swept.join(', ')}` : 'nothing to sweep');
}
