/**
 * The tuner as a global job: one task on every node writes (or restores) the host-wide sysctls of the profile and
 * exits. Waits for every node's task to end and returns, per node, how it ended and what it printed; a node that
 * is down never runs its task, which is reported, not waited for forever.
 */
import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { loadProfile } from '../../../kernel/profile.ts';
import type { SwarmNode } from '../../plan/swarm-planner.ts';
import { LABEL, names } from './swarm-settings.ts';
import { tunerSpec, type LabSpecInput } from './swarm-specs.ts';
import { ENDED, ensureConfig, serviceLogs, serviceTasks } from './swarm-tasks.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface NodeTuning {
  node: string;
  state: string;
  exitCode?: number;
  lines: string[];
}

/** The profile file's text (a shipped profile by name, or a path), which travels to the nodes as a swarm config. */
export function profileText(profile: string): string {
  return readFileSync(loadProfile(profile).file, 'utf8');
}

export async function runTuner(
  docker: Dockerode,
  lab: LabSpecInput,
  o: { image: string; mode: 'apply' | 'restore' | 'dry-run'; profile: string; nodes: SwarmNode[]; timeoutMs?: number },
): Promise<NodeTuning[]> {
  const n = names(lab.project);
  const config = await ensureConfig(docker, `${lab.project}_profile`, profileText(o.profile), { [LABEL.lab]: lab.project });
  // A job of the same name left by an interrupted lab-up/down: replaced.
  for (const s of await docker.listServices({ filters: { name: [n.tuner(o.mode)] } })) await docker.getService(s.ID).remove().catch(() => undefined);
  const svc = await docker.createService(tunerSpec(lab, { image: o.image, mode: o.mode, profileConfig: config }) as never);
  const ready = o.nodes.filter((x) => x.state === 'ready' && x.availability !== 'drain');
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  let tasks = await serviceTasks(docker, svc.id);
  try {
    while (Date.now() < deadline) {
      tasks = await serviceTasks(docker, svc.id);
      const endedOn = new Set(tasks.filter((t) => ENDED.has(t.Status.State)).map((t) => t.NodeID));
      if (ready.every((x) => endedOn.has(x.id))) break;
      await sleep(300);
    }
    const logs = await serviceLogs(docker, svc.id).catch(() => []);
    return o.nodes.map((x) => {
      const t = tasks.filter((k) => k.NodeID === x.id).at(-1);
      const state = t ? (ENDED.has(t.Status.State) ? t.Status.State : `${t.Status.State} (did not end)`) : x.state === 'ready' ? 'no task' : `not run: node ${x.state}`;
      return { node: x.name, state, exitCode: t?.Status.ContainerStatus?.ExitCode, lines: logs.filter((l) => l.nodeId === x.id).map((l) => l.line) };
    });
  } finally {
    await docker.getService(svc.id).remove().catch(() => undefined);
  }
}
