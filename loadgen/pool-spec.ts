/**
 * The serializable description of one process's pool: what a parent sends a child, and what the in-process engine
 * builds from. Targets travel as the template or the URL list (children resolve hosts themselves).
 */
import type { Transport } from '../shared/contracts.ts';
import { ConnectionPool } from './pool.ts';
import { fileTargets, templateTargets } from './targets.ts';
import { TRANSPORTS } from './transports/transports.ts';

export interface PoolSpec {
  template?: string;
  urls?: string[];
  firstIndex: number;
  capacity: number;
  transport: Transport;
  sourceAddresses: string[];
  portRange: [number, number];
  maxConnecting: number;
  connectTimeoutMs: number;
  reconnect: boolean;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export async function createPool(spec: PoolSpec): Promise<ConnectionPool> {
  const targets = spec.template !== undefined ? await templateTargets(spec.template) : await fileTargets((spec.urls ?? []).map((u) => new URL(u)));
  return new ConnectionPool({
    targets,
    firstIndex: spec.firstIndex,
    capacity: spec.capacity,
    transport: TRANSPORTS[spec.transport],
    sourceAddresses: spec.sourceAddresses,
    portRange: spec.portRange,
    maxConnecting: spec.maxConnecting,
    connectTimeoutMs: spec.connectTimeoutMs,
    reconnect: spec.reconnect,
    backoffBaseMs: spec.backoffBaseMs,
    backoffMaxMs: spec.backoffMaxMs,
  });
}
