/** The engine of a single process: the pool runs in this process. */
import type { LoadgenStatus } from '../shared/contracts.ts';
import type { LoadgenEngine } from './engine.ts';
import type { ActiveSample, ConnectionPool } from './pool.ts';
import { createPool, type PoolSpec } from './pool-spec.ts';

export class LocalEngine implements LoadgenEngine {
  readonly procs = 1;
  private readonly pool: ConnectionPool;

  private constructor(pool: ConnectionPool) {
    this.pool = pool;
  }

  static async create(spec: PoolSpec): Promise<LocalEngine> {
    return new LocalEngine(await createPool(spec));
  }

  ramp(target: number, rate: number): void {
    this.pool.ramp(target, rate);
  }
  async status(): Promise<LoadgenStatus> {
    return this.pool.status();
  }
  async resetLatency(): Promise<void> {
    this.pool.resetLatency();
  }
  async sampleActive(n: number): Promise<ActiveSample> {
    return this.pool.sampleActive(n);
  }
  async stop(): Promise<LoadgenStatus> {
    this.pool.stop();
    return this.pool.status();
  }
}
