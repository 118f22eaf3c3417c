/**
 * The serializable description of one process's pool: what a parent sends a child, and what the in-process engine
 * builds from. Targets travel as the template or the URL list (children resolve hosts themselves).
 */
import type { Transport } from '../shared/contracts.ts';
import type { IoName } from './io/client-io.ts';
import { ioFactory, resolveIo } from './io/choose-io.ts';
import { ConnectionPool, type PoolOptions } from './pool.ts';
import { fileTargets, templateTargets } from './targets.ts';
import { TRANSPORTS } from './transports/transports.ts';

type Defaulted = 'closedLoop' | 'paceLatencyMs' | 'connectRetries';

/** PoolOptions with the targets, the transport and the io by name, so that it survives JSON. */
export interface PoolSpec extends Omit<PoolOptions, 'targets' | 'transport' | 'io' | 'ioName' | Defaulted>, Partial<Pick<PoolOptions, Defaulted>> {
  template?: string;
  urls?: string[];
  transport: Transport;
  /** Resolved already (io/choose-io.ts resolveIo), so a child uses what its parent chose; default: auto. */
  io?: IoName;
}

/** The connection-management defaults (the CLI's too: config.ts). */
export const POOL_DEFAULTS: Pick<PoolOptions, Defaulted> = { closedLoop: true, paceLatencyMs: 1000, connectRetries: 3 };

export async function createPool(spec: PoolSpec): Promise<ConnectionPool> {
  const { template, urls, transport, io = resolveIo('auto').io, ...options } = spec;
  const targets = template !== undefined ? await templateTargets(template) : await fileTargets((urls ?? []).map((u) => new URL(u)));
  return new ConnectionPool({ ...POOL_DEFAULTS, ...options, targets, transport: TRANSPORTS[transport], io: await ioFactory(io), ioName: io });
}
