/**
 * The kernel CLI's settings, layered defaults -> environment -> flags in one place, with every problem reported at
 * once (a usage error, exit 2, before anything is read or written).
 */
import { usageError } from '../shared/errors.ts';
import { DEFAULT_STATE_PATH } from './state-file.ts';

export interface KernelConfig {
  n: number;
  profile: string;
  statePath: string;
  backend: 'local' | 'docker';
  sourceAddresses?: number;
  /** tune: only per-namespace settings. */
  onlyNetns: boolean;
  /** tune: only keys with these prefixes. */
  keys?: string[];
  json: boolean;
  strict: boolean;
}

export const DEFAULTS = {
  n: 1_000_000,
  profile: 'c1m',
  statePath: DEFAULT_STATE_PATH,
  backend: 'local',
} as const;

/** Environment variables read, and the flag each stands in for. */
export const ENV = {
  LAB_N: '--n',
  LAB_PROFILE: '--profile',
  LAB_KERNEL_STATE: '--state',
  LAB_BACKEND: '--backend',
} as const;

export interface KernelFlags {
  n?: string;
  profile?: string;
  state?: string;
  backend?: string;
  sourceAddresses?: string;
  onlyNetns?: boolean;
  keys?: string;
  json?: boolean;
  strict?: boolean;
}

function positiveInt(name: string, raw: string, problems: string[]): number | undefined {
  const clean = raw.replaceAll('_', '').replaceAll(',', '');
  if (!/^\d+$/.test(clean) || Number(clean) < 1 || !Number.isSafeInteger(Number(clean))) {
    problems.push(`${name} must be a positive integer, got "${raw}"`);
    return undefined;
  }
  return Number(clean);
}

/** Consolidates defaults, env and flags; throws a usage error listing every problem. */
export function resolveConfig(flags: KernelFlags, env: NodeJS.ProcessEnv): KernelConfig {
  const problems: string[] = [];
  const nRaw = flags.n ?? env.LAB_N;
  const n = nRaw === undefined ? DEFAULTS.n : positiveInt(flags.n !== undefined ? '--n' : 'LAB_N', nRaw, problems);
  const backend = flags.backend ?? env.LAB_BACKEND ?? DEFAULTS.backend;
  if (backend !== 'local' && backend !== 'docker') problems.push(`--backend must be local or docker, got "${backend}"`);
  const src = flags.sourceAddresses === undefined ? undefined : positiveInt('--source-addresses', flags.sourceAddresses, problems);
  const keys = flags.keys?.split(',').map((k) => k.trim()).filter(Boolean);
  if (flags.keys !== undefined && (!keys || keys.length === 0)) problems.push('--keys needs at least one key prefix, e.g. net.');
  const statePath = flags.state ?? env.LAB_KERNEL_STATE ?? DEFAULTS.statePath;
  if (statePath === '') problems.push('--state must not be empty');
  const profile = flags.profile ?? env.LAB_PROFILE ?? DEFAULTS.profile;
  if (profile === '') problems.push('--profile must not be empty');
  if (problems.length > 0) throw usageError(problems, 'see: node kernel/cli.ts --help');
  return {
    n: n!,
    profile,
    statePath,
    backend: backend as KernelConfig['backend'],
    ...(src === undefined ? {} : { sourceAddresses: src }),
    onlyNetns: flags.onlyNetns ?? false,
    ...(keys ? { keys } : {}),
    json: flags.json ?? false,
    strict: flags.strict ?? false,
  };
}
