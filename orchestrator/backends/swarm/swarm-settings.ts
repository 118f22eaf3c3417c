/**
 * The swarm lab's names and settings, read once from the environment (the same COMET_LAB_* variables as the Docker
 * lab, plus the swarm's own), every problem reported at once. Everything the lab creates carries the label
 * `comet-lab.lab=<project>`, so lab-down finds it whatever happened in between.
 */
import { usageError } from '../../../shared/errors.ts';

export const LABEL = { lab: 'comet-lab.lab', role: 'comet-lab.role', run: 'comet-lab.run', component: 'comet-lab.component' } as const;
export const SERVER_PORT = 8000;
export const CONTROL_PORT = 9100;

export interface SwarmSettings {
  project: string;
  /** The overlay network's subnet: explicit and large (the default /24 caps a network near 250 tasks). */
  subnet: string;
  /** Node host name -> its engine's API (unix:///path, tcp://host:port, ssh://user@host), for images and stats. */
  nodeEngines: Map<string, string>;
  loadgensOn?: 'others' | 'all';
  serverImage: string;
  loadgenImage: string;
  tunerImage: string;
  nofile: number;
  profile: string;
  tune: 'apply' | 'dry-run' | 'skip';
}

export const names = (project: string) => ({
  network: `${project}_swarm`,
  server: `${project}_server`,
  loadgen: (runId: string) => `${project}_loadgen_${runId}`,
  tuner: (mode: string) => `${project}_tuner_${mode}`,
  tunerState: `${project}_tuner-state`,
  gateway: `${project}_gateway`,
  runGateway: (runId: string) => `${project}_gw_${runId}`,
  config: (what: string, hash: string) => `${project}_${what}_${hash}`,
});

/** `node=unix:///run/x.sock,other=tcp://10.0.0.2:2375`: every malformed entry named. */
export function parseNodeEngines(text: string | undefined, problems: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    if (eq <= 0 || !/^(unix:\/\/\/|tcp:\/\/[^/]+:\d+$|ssh:\/\/)/.test(url)) {
      problems.push(`COMET_LAB_NODE_ENGINES: '${part}' is not <node>=unix:///path, <node>=tcp://host:port or <node>=ssh://user@host`);
      continue;
    }
    out.set(name, url);
  }
  return out;
}

export function swarmSettings(env: NodeJS.ProcessEnv = process.env): SwarmSettings {
  const problems: string[] = [];
  const subnet = env.COMET_LAB_SWARM_SUBNET || '10.212.0.0/16';
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) < 8 || Number(m[5]) > 22) {
    problems.push(`COMET_LAB_SWARM_SUBNET=${subnet}: must be an IPv4 network a.b.c.d/8 to /22 (a /24 holds fewer than 250 tasks)`);
  }
  const on = env.LAB_SWARM_LOADGENS_ON;
  if (on !== undefined && on !== '' && on !== 'others' && on !== 'all') problems.push(`LAB_SWARM_LOADGENS_ON=${on}: must be others or all`);
  const nofile = Number(env.COMET_NOFILE || 20000);
  if (!Number.isInteger(nofile) || nofile < 1024) problems.push(`COMET_NOFILE=${env.COMET_NOFILE}: must be a whole number >= 1024`);
  const tune = env.COMET_LAB_TUNE || 'apply';
  if (!['apply', 'dry-run', 'skip'].includes(tune)) problems.push(`COMET_LAB_TUNE=${tune}: must be apply, dry-run or skip`);
  const nodeEngines = parseNodeEngines(env.COMET_LAB_NODE_ENGINES, problems);
  // The tag lab-up built the images under (scripts/lab-up.sh COMET_LAB_IMAGE_TAG).
  const tag = env.COMET_LAB_IMAGE_TAG || 'latest';
  if (problems.length) {
    throw usageError(problems, 'e.g. COMET_LAB_NODE_ENGINES=node2=ssh://root@10.0.0.2 COMET_LAB_SWARM_SUBNET=10.212.0.0/16 make lab-up BACKEND=swarm');
  }
  return {
    project: env.COMET_LAB_PROJECT || 'comet-lab',
    subnet,
    nodeEngines,
    loadgensOn: on === 'others' || on === 'all' ? on : undefined,
    serverImage: env.COMET_LAB_SERVER_IMAGE || `comet-lab/server:${tag}`,
    loadgenImage: env.COMET_LAB_LOADGEN_IMAGE || `comet-lab/loadgen:${tag}`,
    tunerImage: env.COMET_LAB_TUNER_IMAGE || `comet-lab/tuner:${tag}`,
    nofile,
    profile: env.COMET_LAB_PROFILE || 'c1m',
    tune: tune as SwarmSettings['tune'],
  };
}
