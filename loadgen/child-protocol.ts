/** Messages between a parent load generator and its children over the IPC channel. */
import type { StatusWithHistogram } from './stats.ts';
import type { PoolSpec } from './pool-spec.ts';
import type { ActiveSample } from './pool.ts';

export type ToChild =
  | { t: 'init'; spec: PoolSpec }
  | { t: 'ramp'; target: number; rate: number }
  | { t: 'status'; id: number }
  | { t: 'reset'; id: number }
  | { t: 'sample'; id: number; n: number }
  | { t: 'stop'; id: number };

export type FromChild =
  | { t: 'ready' }
  | { t: 'fatal'; message: string }
  | { t: 'status'; id: number; data: StatusWithHistogram }
  | { t: 'reset'; id: number }
  | { t: 'sample'; id: number; data: ActiveSample }
  | { t: 'stopped'; id: number; data: StatusWithHistogram };
