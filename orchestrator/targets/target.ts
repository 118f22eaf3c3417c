/**
 * A target is the server under test. comet-lab's own server is one target among the built-in peers (nchan,
 * nginx-idle, mochiweb) and a user's server (cmd:, image:, url:). One file per kind, all behind this interface,
 * all passing target.case.test.ts. A target says what it supports, how its streams are addressed, how the lab
 * starts (or finds) it, and how its messages are sent; the backends call its launcher in place of starting
 * comet-lab's server, and the run skips (with a line in the report) the phases it cannot do.
 */
import type Dockerode from 'dockerode';
import type { Transport } from '../../shared/contracts.ts';
import type { MemoryProbe } from '../backends/backend.ts';
import type { Plan } from '../plan/plan.ts';
import type { ListenSocket } from '../run/kernel-connections.ts';

export type TargetKind = 'comet-lab' | 'nchan' | 'nginx-idle' | 'mochiweb' | 'cmd' | 'image' | 'url';

export interface TargetSupport {
  transports: Transport[];
  /** Routed sends to one id (the sends phase). */
  sends: boolean;
  /** One message to every connection (the broadcast phase). */
  broadcast: boolean;
  /** The server writes a chunk on every stream each heartbeat interval, so chunks delivered % means something. */
  heartbeat: boolean;
}

/** What the local backend gives a target's launcher. */
export interface LocalLaunch {
  plan: Plan;
  /** The port chosen for it (below the ephemeral range, free when chosen). */
  port: number;
  /** Wraps a command so it runs inside the server's memory cgroup with the plan's file limit (as comet-lab's does). */
  wrap(command: string[]): string[];
  /** The run's id: names temporary folders. */
  runId: string;
  /** Where the server's output goes (the report's logs/), if anywhere. */
  logDir?: string;
  /** The repository root (where orchestrator/targets/ lives). */
  cwd: string;
  /** The run will broadcast (nchan then also subscribes every stream to a channel all of them share). */
  broadcast: boolean;
}

/** A server the lab started (or found) for a run. */
export interface LaunchedServer {
  /** Base URL of the server (sends and broadcast go there). */
  url: string;
  /** Where its sockets are: the kernel counts established connections there. */
  listen: ListenSocket;
  /** Root of its process tree (CPU time; memory where no cgroup holds it); undefined when unknown. */
  pid(): number | undefined;
  /** Why it is no longer running (exit code or signal, and its last stderr line); undefined while it runs. */
  exitReason(): string | undefined;
  /** Stops what the launcher started; the backend then empties and removes the cgroup. */
  stop(): Promise<void>;
  /**
   * The memory probe, when the target chooses it (url: with --server-pid or --server-container); undefined: the
   * backend's probe of the cgroup it made; null: the server's memory is not measured (the report says so).
   */
  probe?: MemoryProbe | null;
  /** false: a server the lab did not start (url:): nothing of it runs in the lab's cgroup. */
  managed: boolean;
}

export type LocalLauncher = (launch: LocalLaunch) => Promise<LaunchedServer>;

/** What the Docker backend gives a target's launcher: the lab network and an address on it for the server. */
export interface DockerLaunch {
  docker: Dockerode;
  network: string;
  ip: string;
  /** Labels the container must carry: the backend removes the run's containers by them. */
  labels: Record<string, string>;
  /** Container name. */
  name: string;
  fdLimit: number;
}

export interface DockerLaunched {
  containerId: string;
  /** The port the server listens on inside its container. */
  port: number;
}

export type DockerLauncher = (launch: DockerLaunch) => Promise<DockerLaunched>;

/** A send or a broadcast as an HTTP request to the server (for servers whose API is not comet-lab's). */
export interface TargetMessaging {
  /** The request autocannon sends to reach connection `id`; the body carries the lab's `@<sentAtMs>` stamp. */
  sendRequest(id: string): { method: 'POST'; path: string; headers: Record<string, string>; body: string };
  /** Publishes `body` to every connection; resolves with how many the server says it reached, when it says. */
  broadcast(baseUrl: string, body: string, timeoutMs: number): Promise<{ delivered?: number }>;
}

export interface Target {
  readonly kind: TargetKind;
  /** As given (`nchan`, `cmd:python3 srv.py {port}`, `url:http://127.0.0.1:8080/test/{i}`). */
  readonly name: string;
  /** Short, file-name safe: names report folders and table rows (`nchan`, `cmd`, `url-8080`). */
  readonly label: string;
  readonly supports: TargetSupport;
  /** Which backend can run it. */
  readonly backends: ReadonlyArray<'local' | 'docker' | 'swarm'>;
  /** One sentence for the report: what runs, configured how. */
  readonly description: string;
  /** How its memory is measured when not by the backend's probe of the server it started (url:), known after preflight. */
  readonly memoryNote?: string;
  /** Extra load-generator flags (nginx-idle: `--keep-open`). */
  readonly loadgenFlags: string[];
  /** The stream path template (`{i}` = connection index) for a transport. */
  streamPath(transport: Transport): string;
  /** Checks made before anything starts (programs installed, image present, URL answering); throws LabError. */
  preflight(): Promise<void>;
  /** Rewrites the plan for this server (workers it runs, where the load generators connect). */
  adaptPlan(plan: Plan): void;
  /** Starts the server for the local backend; absent: comet-lab's own server (the backend's default). */
  readonly launchLocal?: LocalLauncher;
  /** Starts the server container for the Docker backend; absent: the lab's own server container. */
  readonly launchDocker?: DockerLauncher;
  /** Sends and broadcast for a server whose API is not comet-lab's; absent: comet-lab's /send and /broadcast. */
  readonly messaging?: TargetMessaging;
}

/** What run.json and summary.json keep of a target. */
export interface TargetRecord {
  name: string;
  kind: TargetKind;
  label: string;
  description: string;
  supports: TargetSupport;
}

export function targetRecord(t: Target): TargetRecord {
  return { name: t.name, kind: t.kind, label: t.label, description: t.description, supports: t.supports };
}
