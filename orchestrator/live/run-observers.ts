/**
 * Hooks the live page and the Prometheus exporter onto a flood run in one call, for the CLI: both listen on loopback
 * ports (0 = any free one), follow the run's events, and a file_sd targets file is written as soon as the run's
 * components answer (`up` event) and removed on close: for prometheus.local.yml every component and the exporter;
 * for the Docker lab's prometheus.yml the load-generator containers only (the server and the exporter are static
 * targets there).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { LabError } from '../../shared/errors.ts';
import { startLabExporter, type LabExporter, type RunInfo } from '../exporter/lab-exporter.ts';
import type { RunEventSource } from '../run/flood-run.ts';
import type { ComponentRecord } from '../run/outcome.ts';
import type { Plan } from '../plan/plan.ts';
import type { LivePointOptions } from './live-point.ts';
import { DEFAULT_TARGETS_DIR, removeTargetsFile, writeTargetsFile, type ScrapeTarget } from '../exporter/prometheus-targets.ts';
import { startLivePage, type LivePage } from './live-server.ts';

/** What a plan measures, as lab_run_info labels it: the target's name (`nchan`, `url:...`), comet-lab's own server by default. */
export function runInfoOf(plan: Plan): RunInfo {
  return { target: plan.target?.name ?? 'comet-lab', transport: plan.transport, backend: plan.backend, engine: plan.server.engine };
}

/** The port dashboards/prometheus/prometheus.yml (Docker lab) scrapes the orchestrator on, as host.docker.internal. */
export const DOCKER_METRICS_PORT = 9465;

export interface RunObserversOptions {
  backend: 'local' | 'docker' | 'swarm';
  /** undefined: no live page. */
  livePort?: number;
  /** undefined: no exporter. With the docker backend, 0 means DOCKER_METRICS_PORT so the lab's Prometheus finds it. */
  metricsPort?: number;
  title?: string;
  /** How the live page computes its points (the heartbeat behind the expected chunk rate). */
  points?: LivePointOptions;
  /** What the run measures, exported as lab_run_info. */
  runInfo?: RunInfo;
  /** Where the file_sd targets file goes: default .lab/prometheus (local backend); the Docker lab's folder (docker). */
  targetsDir?: string;
}

export interface RunObservers {
  live?: LivePage;
  exporter?: LabExporter;
  /** Written once the run is up (local backend). */
  targetsFile(): string | undefined;
  close(): Promise<void>;
}

/**
 * The address a container reaches the host on (`host.docker.internal:host-gateway` is docker0's address); the
 * exporter listens there for the Docker lab's Prometheus, loopback otherwise. Read with `ip`, because Node's
 * os.networkInterfaces() leaves out docker0 while no container uses the default bridge (no carrier).
 */
function dockerGatewayAddress(): string | undefined {
  const listed = os.networkInterfaces().docker0?.find((a) => a.family === 'IPv4')?.address;
  if (listed) return listed;
  try {
    const out = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', 'docker0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }));
    return out[0]?.addr_info?.find((a: { family: string; local: string }) => a.family === 'inet')?.local;
  } catch {
    return undefined;
  }
}

/** The exporter for a Docker run: on DOCKER_METRICS_PORT where the lab's Prometheus looks, any port if it is taken. */
async function startDockerExporter(port: number): Promise<LabExporter> {
  const host = dockerGatewayAddress() ?? '127.0.0.1';
  if (port !== 0) return startLabExporter({ host, port });
  try {
    return await startLabExporter({ host, port: DOCKER_METRICS_PORT });
  } catch (err) {
    // Another flood holds it: this one still runs and exports, only the lab's Prometheus does not see it.
    if ((err as LabError).code !== 'LAB_ERR_EXPORTER_LISTEN') throw err;
    return startLabExporter({ host, port: 0 });
  }
}

/** Starts what the options ask for and attaches it to `run`. Undo with `close()` (also on failure). */
export async function startRunObservers(run: RunEventSource, options: RunObserversOptions): Promise<RunObservers> {
  const detach: Array<() => void> = [];
  let live: LivePage | undefined;
  let exporter: LabExporter | undefined;
  let targetsFile: string | undefined;
  let writing: Promise<unknown> = Promise.resolve();

  const close = async () => {
    for (const d of detach.splice(0)) d();
    await writing.catch(() => undefined);
    if (targetsFile) await removeTargetsFile(targetsFile);
    await Promise.all([live?.close(), exporter?.close()]);
  };

  try {
    if (options.livePort !== undefined) {
      live = await startLivePage({ port: options.livePort, title: options.title, points: options.points });
      detach.push(live.attach(run));
    }
    if (options.metricsPort !== undefined) {
      const docker = options.backend === 'docker';
      exporter = docker ? await startDockerExporter(options.metricsPort) : await startLabExporter({ port: options.metricsPort });
      detach.push(exporter.attach(run));
      if (options.runInfo) exporter.setRunInfo(options.runInfo);
      const exp = exporter;
      const onUp = (ev: { components: ComponentRecord[] }) => {
        const targets: ScrapeTarget[] = docker
          ? ev.components.filter((c) => c.role === 'loadgen')
          : [...ev.components, { name: 'lab', role: 'lab', url: exp.url }];
        if (docker && !options.targetsDir) return;
        // Prometheus is optional: a targets folder that cannot be written must not fail the flood.
        writing = writeTargetsFile(options.targetsDir ?? DEFAULT_TARGETS_DIR, targets).then((f) => (targetsFile = f), () => undefined);
      };
      run.on('up', onUp);
      detach.push(() => run.off('up', onUp));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { live, exporter, targetsFile: () => targetsFile, close };
}
