/**
 * Finding the Docker lab that `make lab-up` started: the engine (reachable within a bounded time), the compose
 * project's server container, its network and subnet. Also `isDockerLabUp()`, which the orchestrator's
 * `--backend auto` asks: docker when the lab's server container runs, else local.
 */
import { existsSync } from 'node:fs';
import Dockerode from 'dockerode';
import { EXIT, LabError } from '../../../shared/errors.ts';

/** The compose project name (COMET_LAB_PROJECT, as scripts/lab-up.sh uses it). */
export function labProject(env: NodeJS.ProcessEnv = process.env): string {
  return env.COMET_LAB_PROJECT || 'comet-lab';
}

/** The host folder the Docker lab keeps its state in (docker/lab-env.sh: COMET_LAB_STATE_DIR). */
export function labStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.COMET_LAB_STATE_DIR || '/var/lib/comet-lab';
}

/** Where the lab's Prometheus reads the load generators to scrape (file_sd; mounted at /prometheus-targets). */
export function labTargetsDir(env: NodeJS.ProcessEnv = process.env): string {
  return `${labStateDir(env)}/prometheus-targets/${labProject(env)}`;
}

/** Labels every container the orchestrator creates carries; `make lab-down` removes by `comet-lab.lab`. */
export const LABELS = { lab: 'comet-lab.lab', role: 'comet-lab.role', run: 'comet-lab.run', controlPort: 'comet-lab.control-port' } as const;

export interface LabInfo {
  project: string;
  serverId: string;
  serverName: string;
  serverIp: string;
  /** Port the server listens on inside the lab network. */
  serverPort: number;
  network: string;
  networkId: string;
  subnet: string;
  gateway?: string;
  /** Addresses already taken on the lab network (server, Prometheus, Grafana, earlier load generators). */
  usedIps: string[];
  /** The server container's command line (its flags: --workers, --interval, --engine) and nofile limit. */
  serverCmd: string[];
  serverNofile?: number;
  /** The server's admin token (random per lab, set by lab-up), read back from the container's environment. */
  adminToken?: string;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A client for the local engine that answered a ping; LAB_ERR_NO_DOCKER (preflight exit code) when none does. */
export async function connectDocker(options: { socketPath?: string; timeoutMs?: number } = {}): Promise<Dockerode> {
  const socketPath = options.socketPath ?? process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
  const hint = 'make lab-up starts one (scripts/start-dockerd.sh), or use --backend local';
  if (!existsSync(socketPath)) {
    throw new LabError('LAB_ERR_NO_DOCKER', `no Docker engine: ${socketPath} does not exist`, { exitCode: EXIT.preflight, hint });
  }
  const docker = new Dockerode({ socketPath, timeout: options.timeoutMs ?? 30_000 });
  try {
    await withTimeout(docker.ping(), options.timeoutMs ?? 5000, 'docker ping');
  } catch (err) {
    throw new LabError('LAB_ERR_NO_DOCKER', `the Docker engine at ${socketPath} does not answer: ${(err as Error).message}`, {
      exitCode: EXIT.preflight,
      hint,
      cause: err,
    });
  }
  return docker;
}

/** The running lab of `project`, or LAB_ERR_LAB_NOT_UP when its server container is not running. */
export async function findLab(docker: Dockerode, project = labProject()): Promise<LabInfo> {
  const list = await docker.listContainers({
    filters: { label: [`com.docker.compose.project=${project}`, `${LABELS.role}=server`], status: ['running'] },
  });
  const summary = list[0];
  if (!summary) {
    throw new LabError('LAB_ERR_LAB_NOT_UP', `the Docker lab '${project}' is not up (no running server container)`, {
      exitCode: EXIT.preflight,
      hint: 'make lab-up, or --backend local',
    });
  }
  const info = await docker.getContainer(summary.Id).inspect();
  const [network, endpoint] = Object.entries(info.NetworkSettings.Networks).find(([name]) => name.endsWith('_lab')) ??
    Object.entries(info.NetworkSettings.Networks)[0] ?? [];
  if (!network || !endpoint?.IPAddress) {
    throw new LabError('LAB_ERR_LAB_NOT_UP', `the lab's server container ${summary.Names[0]} has no address on a lab network`, { exitCode: EXIT.preflight });
  }
  const net = await docker.getNetwork(endpoint.NetworkID).inspect();
  const ipam = (net.IPAM?.Config ?? [])[0] as { Subnet?: string; Gateway?: string } | undefined;
  if (!ipam?.Subnet) throw new LabError('LAB_ERR_LAB_NOT_UP', `the lab network ${network} has no explicit subnet`, { exitCode: EXIT.preflight });
  const usedIps = Object.values((net.Containers ?? {}) as Record<string, { IPv4Address?: string }>)
    .map((c) => (c.IPv4Address ?? '').split('/')[0]!)
    .filter(Boolean);
  return {
    project,
    serverId: summary.Id,
    serverName: (summary.Names[0] ?? summary.Id).replace(/^\//, ''),
    serverIp: endpoint.IPAddress,
    serverPort: 8000,
    network,
    networkId: endpoint.NetworkID,
    subnet: ipam.Subnet,
    gateway: ipam.Gateway,
    usedIps,
    serverCmd: info.Config.Cmd ?? [],
    serverNofile: info.HostConfig.Ulimits?.find((u) => u.Name === 'nofile')?.Hard,
    adminToken: (info.Config.Env ?? []).find((e) => e.startsWith('COMET_ADMIN_TOKEN='))?.slice('COMET_ADMIN_TOKEN='.length) || undefined,
  };
}

/**
 * True when an engine answers and the lab's server container runs. Never throws, answers within ~3 s: the
 * orchestrator's `--backend auto` calls it before anything starts.
 */
export async function isDockerLabUp(project = labProject()): Promise<boolean> {
  try {
    const docker = await connectDocker({ timeoutMs: 2000 });
    await withTimeout(findLab(docker, project), 2000, 'find lab');
    return true;
  } catch {
    return false;
  }
}
