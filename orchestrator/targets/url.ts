/**
 * `url:<template>`: a server that is already running, somewhere the lab may send traffic (loopback, or the address
 * of the container given with --server-container). `{i}` in the template is the connection's index. Nothing is
 * started or stopped. Its memory is measured when a process (--server-pid: its own cgroup, else RSS of its tree)
 * or a container (--server-container: `docker stats`) is named; otherwise it is not measured and the report says
 * so. Connections are counted by the kernel on the URL's port, in the container's namespace when one is named.
 */
import { TRANSPORT_NAMES } from '../../shared/contracts.ts';
import { existsSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { EXIT, LabError } from '../../shared/errors.ts';
import type { MemoryProbe } from '../backends/backend.ts';
import type { Plan } from '../plan/plan.ts';
import type { ListenSocket } from '../run/kernel-connections.ts';
import { foundServerProbe } from './found-server-probe.ts';
import { canConnect } from './server-process.ts';
import type { LaunchedServer, Target } from './target.ts';

export interface UrlTargetOptions {
  serverPid?: number;
  serverContainer?: string;
}

export interface ParsedTemplate {
  host: string;
  port: number;
  /** Path and query, `{i}` kept. */
  path: string;
}

const isLoopback = (host: string) => host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** The template's parts, or why it cannot be used. */
export function parseUrlTemplate(template: string): ParsedTemplate | string {
  let u: URL;
  try {
    u = new URL(template.replaceAll('{i}', '0'));
  } catch {
    return `url:${template} is not a URL (e.g. url:http://127.0.0.1:8080/test/{i})`;
  }
  if (u.protocol !== 'http:') return `url:${template}: only http:// is supported (the load generators speak plain HTTP/1.1)`;
  const rest = template.slice(template.indexOf('/', template.indexOf('//') + 2));
  return { host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname, port: Number(u.port || 80), path: template.indexOf('/', template.indexOf('//') + 2) < 0 ? '/' : rest };
}

interface Found {
  probe: MemoryProbe | null;
  note: string;
  listen: ListenSocket;
  pid?: number;
}

async function findContainer(name: string, urlPort: number): Promise<{ container: Dockerode.Container; pid: number; port: number; ip?: string; id: string }> {
  const { connectDocker } = await import('../backends/docker/docker-lab.ts');
  const docker = await connectDocker();
  const container = docker.getContainer(name);
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await container.inspect();
  } catch {
    throw new LabError('LAB_ERR_NO_CONTAINER', `--server-container ${name}: no such container`, { exitCode: EXIT.usage, hint: 'docker ps lists the running ones' });
  }
  if (!info.State.Running) throw new LabError('LAB_ERR_NO_CONTAINER', `--server-container ${name} is not running`, { exitCode: EXIT.usage });
  // A port published on the host: the container's side of it is what its own namespace counts.
  let port = urlPort;
  for (const [inside, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
    if ((bindings ?? []).some((b) => Number(b.HostPort) === urlPort)) port = Number(inside.split('/')[0]);
  }
  const ip = Object.values(info.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress).find(Boolean);
  return { container, pid: info.State.Pid, port, ip, id: info.Id };
}

export function urlTarget(template: string, opts: UrlTargetOptions = {}): Target {
  const parsed = parseUrlTemplate(template);
  if (typeof parsed === 'string') throw new LabError('LAB_ERR_USAGE', parsed, { exitCode: EXIT.usage });
  let found: Found | undefined;

  const find = async (): Promise<Found> => {
    if (opts.serverContainer !== undefined) {
      const c = await findContainer(opts.serverContainer, parsed.port);
      if (!isLoopback(parsed.host) && parsed.host !== c.ip) {
        throw new LabError('LAB_ERR_USAGE', `url:${template}: the lab sends traffic only to loopback or to the --server-container's address (${c.ip ?? 'none'})`, { exitCode: EXIT.usage });
      }
      const { DockerMemoryProbe, cgroupV1MemoryDir } = await import('../backends/probes/docker-memory-probe.ts');
      const v1 = cgroupV1MemoryDir(c.id);
      return {
        probe: new DockerMemoryProbe(c.container, { cgroupV1Dir: existsSync(v1) ? v1 : undefined }),
        note: `docker stats of container ${opts.serverContainer}`,
        listen: { port: c.port, netnsPid: c.pid },
      };
    }
    if (!isLoopback(parsed.host)) {
      throw new LabError('LAB_ERR_USAGE', `url:${template}: the lab sends traffic only to loopback (127.0.0.0/8) or to a --server-container's address`, { exitCode: EXIT.usage });
    }
    if (opts.serverPid !== undefined) {
      if (!existsSync(`/proc/${opts.serverPid}`)) {
        throw new LabError('LAB_ERR_USAGE', `--server-pid ${opts.serverPid}: no such process`, { exitCode: EXIT.usage });
      }
      const p = foundServerProbe(opts.serverPid);
      return { probe: p.probe, note: p.note, listen: { port: parsed.port, netnsPid: opts.serverPid }, pid: opts.serverPid };
    }
    return {
      probe: null,
      note: 'not measured: a url: target without --server-pid or --server-container (the lab does not know which process serves it)',
      listen: { port: parsed.port },
    };
  };

  return {
    kind: 'url',
    name: `url:${template}`,
    label: `url-${parsed.port}`,
    supports: { transports: [...TRANSPORT_NAMES], sends: false, broadcast: false, heartbeat: false },
    backends: ['local'],
    description: `a server already running at ${template}, not started or stopped by the lab`,
    get memoryNote() {
      return found?.note;
    },
    loadgenFlags: [],
    streamPath: () => parsed.path,
    async preflight() {
      found = await find();
      if (!(await canConnect(parsed.host, parsed.port, 3000))) {
        throw new LabError('LAB_ERR_TARGET_REFUSED', `url:${template}: nothing accepts connections at ${parsed.host}:${parsed.port}`, {
          exitCode: EXIT.usage,
          hint: 'start the server first, or let the lab start it: --target cmd:\'<command with {port}>\'',
        });
      }
    },
    adaptPlan: (plan: Plan) => {
      plan.server.engine = 'url';
      plan.server.workers = 1;
      plan.server.port = parsed.port;
      plan.server.addresses = [parsed.host];
      for (const lg of plan.loadgens) lg.targets = [{ host: parsed.host, port: parsed.port }];
    },
    launchLocal: async (): Promise<LaunchedServer> => {
      found ??= await find();
      const f = found;
      return {
        url: `http://${parsed.host}:${parsed.port}`,
        listen: f.listen,
        pid: () => f.pid,
        exitReason: () => (f.pid !== undefined && !existsSync(`/proc/${f.pid}`) ? `pid ${f.pid} is gone` : undefined),
        stop: async () => undefined,
        probe: f.probe,
        managed: false,
      };
    },
  };
}
