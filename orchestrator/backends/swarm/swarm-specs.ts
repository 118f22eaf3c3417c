/**
 * The swarm lab's service specs, as the Engine API takes them (POST /services/create): pure functions, so what a
 * service asks for is tested without an engine. Every service: on the lab's overlay with `dnsrr` endpoints (no IPVS
 * virtual IP in the path of the connections, and none to drop idle ones after 900 s), the file limit as a ulimit
 * (API 1.41) and the profile's per-namespace sysctls (API 1.40) as in docker-compose.yml, docker-init as PID 1, no
 * restart (a component that dies is a result to report, not something to hide), and the lab's labels.
 */
import type { ProfileSetting } from '../../../kernel/profile.ts';
import type { Transport } from '../../../shared/contracts.ts';
import { SERVER_LABEL, SERVER_LABEL_VALUE } from '../../plan/swarm-planner.ts';
import { CONTROL_PORT, LABEL, names, SERVER_PORT } from './swarm-settings.ts';

/** The subset of the Engine API's ServiceSpec these builders fill. */
export interface ServiceSpec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Command?: string[];
      Args?: string[];
      Env?: string[];
      Labels?: Record<string, string>;
      Ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
      Sysctls?: Record<string, string>;
      Init?: boolean;
      StopGracePeriod?: number;
      CapabilityAdd?: string[];
      Mounts?: Array<{ Type: 'bind' | 'volume'; Source: string; Target: string; ReadOnly?: boolean }>;
      Configs?: Array<{ ConfigID: string; ConfigName: string; File: { Name: string; UID: string; GID: string; Mode: number } }>;
    };
    Placement?: { Constraints?: string[]; Preferences?: Array<{ Spread: { SpreadDescriptor: string } }>; MaxReplicas?: number };
    RestartPolicy: { Condition: 'none' | 'on-failure' | 'any' };
    Networks: Array<{ Target: string; Aliases?: string[] }>;
  };
  Mode: { Replicated: { Replicas: number } } | { GlobalJob: Record<string, never> };
  EndpointSpec?: { Mode: 'dnsrr' | 'vip' };
}

export interface LabSpecInput {
  project: string;
  networkId: string;
  nofile: number;
  /** The profile's settings; the `netns` ones become each container's sysctls. */
  profile: ProfileSetting[];
}

const ulimits = (nofile: number) => [{ Name: 'nofile', Soft: nofile, Hard: nofile }];
const netnsSysctls = (profile: ProfileSetting[]) => Object.fromEntries(profile.filter((s) => s.scope === 'netns').map((s) => [s.key, s.value]));

export function serverSpec(
  lab: LabSpecInput,
  o: { image: string; workers: string; maxConnections: number; interval: string; engine: string; adminToken: string; placement: string },
): ServiceSpec {
  const labels = { [LABEL.lab]: lab.project, [LABEL.role]: 'server', [LABEL.component]: 'server' };
  return {
    Name: names(lab.project).server,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: o.image,
        Args: [`--host=0.0.0.0`, `--port=${SERVER_PORT}`, `--workers=${o.workers}`, `--max-connections=${o.maxConnections}`, `--interval=${o.interval}`, `--engine=${o.engine}`],
        Env: [`COMET_ADMIN_TOKEN=${o.adminToken}`],
        Labels: labels,
        Ulimits: ulimits(lab.nofile),
        Sysctls: netnsSysctls(lab.profile),
        Init: true,
        StopGracePeriod: 10e9,
      },
      Placement: { Constraints: [o.placement] },
      RestartPolicy: { Condition: 'none' },
      Networks: [{ Target: lab.networkId, Aliases: ['server'] }],
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/** Where the server goes: the labelled node, or (a one-node swarm without the label) that node by id. */
export function serverPlacement(labelledNode: boolean, nodeId: string): string {
  return labelledNode ? `node.labels.${SERVER_LABEL}==${SERVER_LABEL_VALUE}` : `node.id==${nodeId}`;
}

export interface LoadgenSpecInput {
  runId: string;
  image: string;
  replicas: number;
  /** ids per task slot, in slot order: `start:count`. */
  shares: Array<{ startIndex: number; connections: number }>;
  procs: number;
  serverAddress: string;
  transport: Transport;
  streamPrefix: string;
  durationSeconds: number;
  /** At most this many replicas per node, so swarm spreads them evenly. */
  maxPerNode: number;
  /** Keep them off the server's node. */
  avoidServerNode: boolean;
  entryConfig: { id: string; name: string };
  /** The control API's token (LOADGEN_CONTROL_TOKEN in every replica): its control port listens on the overlay. */
  controlToken: string;
}

/** Where the entry lands in the load-generator image (WORKDIR /app): beside loadgen/ as in the repository. */
export const LOADGEN_ENTRY_PATH = '/app/docker/swarm-loadgen-entry.ts';

export function loadgenSpec(lab: LabSpecInput, o: LoadgenSpecInput): ServiceSpec {
  const labels = { [LABEL.lab]: lab.project, [LABEL.role]: 'loadgen', [LABEL.run]: o.runId };
  return {
    Name: names(lab.project).loadgen(o.runId),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: o.image,
        Command: ['node', LOADGEN_ENTRY_PATH],
        Args: [
          `--url=http://${o.serverAddress}:${SERVER_PORT}/${o.streamPrefix}/{i}`,
          `--transport=${o.transport}`,
          `--procs=${o.procs}`,
          `--control-port=${CONTROL_PORT}`,
          '--control-host=0.0.0.0',
          // Nothing opens before the orchestrator's POST /ramp (a count alone opens at the default pace).
          '--hold',
          `--duration=${Math.ceil(o.durationSeconds)}s`,
        ],
        Env: [
          'COMET_LAB_TASK_SLOT={{.Task.Slot}}',
          `COMET_LAB_SHARES=${o.shares.map((s) => `${s.startIndex}:${s.connections}`).join(',')}`,
          `LOADGEN_CONTROL_TOKEN=${o.controlToken}`,
        ],
        Labels: labels,
        Ulimits: ulimits(lab.nofile),
        Sysctls: netnsSysctls(lab.profile),
        Init: true,
        StopGracePeriod: 10e9,
        Configs: [{ ConfigID: o.entryConfig.id, ConfigName: o.entryConfig.name, File: { Name: LOADGEN_ENTRY_PATH, UID: '0', GID: '0', Mode: 0o444 } }],
      },
      Placement: {
        Constraints: o.avoidServerNode ? [`node.labels.${SERVER_LABEL}!=${SERVER_LABEL_VALUE}`] : [],
        Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }],
        MaxReplicas: o.maxPerNode,
      },
      RestartPolicy: { Condition: 'none' },
      Networks: [{ Target: lab.networkId }],
    },
    Mode: { Replicated: { Replicas: o.replicas } },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/**
 * The tuner on every node, once (a global job, API 1.41): the host-wide lines of the profile written through the
 * node's /proc/sys in its host network namespace, the replaced values kept in a volume on that node; `restore` puts
 * them back. The profile travels as a swarm config, so a profile file of the manager reaches every node.
 */
export function tunerSpec(lab: LabSpecInput, o: { image: string; mode: 'apply' | 'restore' | 'dry-run'; profileConfig: { id: string; name: string } }): ServiceSpec {
  const labels = { [LABEL.lab]: lab.project, [LABEL.role]: 'tuner' };
  return {
    Name: names(lab.project).tuner(o.mode),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: o.image,
        Env: [
          'COMET_LAB_PROFILE=/lab/profiles/lab.conf',
          `COMET_LAB_TUNE=${o.mode}`,
          'COMET_LAB_SYSCTL_ROOT=/host/proc/sys',
          'COMET_LAB_TUNER_STATE=/lab-state/sysctl-saved.json',
        ],
        Labels: labels,
        CapabilityAdd: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'],
        Mounts: [
          { Type: 'bind', Source: '/proc/sys', Target: '/host/proc/sys' },
          { Type: 'volume', Source: names(lab.project).tunerState, Target: '/lab-state' },
        ],
        Configs: [{ ConfigID: o.profileConfig.id, ConfigName: o.profileConfig.name, File: { Name: '/lab/profiles/lab.conf', UID: '0', GID: '0', Mode: 0o444 } }],
      },
      RestartPolicy: { Condition: 'none' },
      Networks: [{ Target: 'host' }],
    },
    Mode: { GlobalJob: {} },
  };
}
