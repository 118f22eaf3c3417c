/**
 * The serializable description of one process's pool: what a parent sends a child, and what the in-process engine
 * builds from. Targets travel as the template or the URL list (children resolve hosts themselves).
 */
import type { Transport } from '../shared/contracts.ts';
import { ConnectionPool, type PoolOptions } from './pool.ts';
import { fileTargets, templateTargets } from './targets.ts';
import { TRANSPORTS } from './transports/transports.ts';

/** PoolOptions with the targets and the transport by name, so that it survives JSON. */
export interface PoolSpec extends Omit<PoolOptions, 'targets' | 'transport'> {
  template?: string;
  urls?: string[];
  transport: Transport;
}

export async function createPool(spec: PoolSpec): Promise<ConnectionPool> {
  const { template, urls, transport, ...options } = spec;
  const targets = template !== undefined ? await templateTargets(template) : await fileTargets((urls ?? []).map((u) => new URL(u)));
  return new ConnectionPool({ ...options, targets, transport: TRANSPORTS[transport] });
}
