/**
 * A parent spreading connections over child processes (`--procs N`): each child holds its own index range, its own
 * source addresses (or, when there are fewer addresses than children, its own slice of the local port range), and
 * stays under the per-process file limit. The parent splits ramps by capacity and merges statuses, histograms
 * included. A child that dies keeps its last status in the totals and is reported in `deadProcs`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { nowMs } from '../shared/clock.ts';
import type { FromChild, ToChild } from './child-protocol.ts';
import { splitProportionally, type LoadgenEngine } from './engine.ts';
import type { PoolSpec } from './pool-spec.ts';
import type { ActiveSample } from './pool.ts';
import { splitRange } from './port-allocator.ts';
import { encodeHistogram, mergeStatuses, newLatencyHistogram, zeroStatus, type StatusWithHistogram } from './stats.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/**
 * A 1 MB young generation: a child's garbage is small (connect and write requests), and V8's default semi-spaces
 * (16 MB) would keep ~0.6 KB per connection of touched pages at 15,000 connections (measured, see README).
 */
const CHILD_NODE_FLAGS = ['--max-semi-space-size=1'];
const REPLY_TIMEOUT_MS = 5000;

/** The specs of `procs` children sharing `spec` (its capacity and index range split in order). */
export function splitSpec(spec: PoolSpec, procs: number): PoolSpec[] {
  const base = Math.floor(spec.capacity / procs);
  const capacities = Array.from({ length: procs }, (_, k) => base + (k < spec.capacity % procs ? 1 : 0));
  const sources = spec.sourceAddresses;
  let first = spec.firstIndex;
  return capacities.map((capacity, k) => {
    const own = sources.length >= procs ? sources.filter((_, j) => j % procs === k) : sources;
    const portRange = sources.length >= procs || sources.length === 0 ? spec.portRange : splitRange(spec.portRange[0], spec.portRange[1], procs, k);
    const child: PoolSpec = { ...spec, capacity, firstIndex: first, sourceAddresses: own, portRange };
    first += capacity;
    return child;
  });
}

interface Child {
  proc: ChildProcess;
  capacity: number;
  last: StatusWithHistogram;
  exited: string | undefined;
}

function emptyStatus(): StatusWithHistogram {
  return { status: zeroStatus(1, true, 0), histogram: encodeHistogram(newLatencyHistogram()) };
}

export class ProcsEngine implements LoadgenEngine {
  readonly procs: number;
  private readonly children: Child[];
  private readonly startedAt = nowMs();
  private readonly waiting = new Map<number, (m: FromChild) => void>();
  private nextId = 1;
  private final: Promise<LoadgenStatus> | undefined;

  private constructor(children: Child[]) {
    this.children = children;
    this.procs = children.length;
  }

  /** Forks the children and waits until every one built its pool (or throws, after killing them all). */
  static async create(spec: PoolSpec, procs: number, startTimeoutMs = 30000): Promise<ProcsEngine> {
    const specs = splitSpec(spec, procs);
    const children: Child[] = specs.map((s) => ({
      proc: fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: CHILD_NODE_FLAGS }),
      capacity: s.capacity,
      last: emptyStatus(),
      exited: undefined,
    }));
    const engine = new ProcsEngine(children);
    try {
      await Promise.all(
        children.map(
          (child, k) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`load generator child ${k + 1} did not start in ${startTimeoutMs} ms`)), startTimeoutMs);
              child.proc.on('message', (raw) => {
                const m = raw as FromChild;
                if (m.t === 'ready') {
                  clearTimeout(timer);
                  resolve();
                } else if (m.t === 'fatal') {
                  clearTimeout(timer);
                  reject(new Error(`load generator child ${k + 1}: ${m.message}`));
                } else if ('id' in m) {
                  engine.waiting.get(m.id)?.(m);
                }
              });
              child.proc.on('exit', (code, signal) => {
                child.exited = signal ? `signal ${signal}` : `exit code ${code}`;
                clearTimeout(timer);
                reject(new Error(`load generator child ${k + 1} exited (${child.exited}) while starting`));
              });
              child.proc.send({ t: 'init', spec: specs[k]! } satisfies ToChild);
            }),
        ),
      );
    } catch (err) {
      for (const c of children) c.proc.kill('SIGKILL');
      throw err;
    }
    return engine;
  }

  ramp(target: number, rate: number): void {
    const caps = this.children.map((c) => c.capacity);
    const targets = splitProportionally(target, caps);
    const total = caps.reduce((a, b) => a + b, 0);
    this.children.forEach((c, k) => this.post(c, { t: 'ramp', target: targets[k]!, rate: rate > 0 ? (rate * c.capacity) / total : 0 }));
  }

  async status(): Promise<LoadgenStatus> {
    await Promise.all(this.children.map((c) => this.ask(c, 'status')));
    return this.merged();
  }

  async resetLatency(): Promise<void> {
    await Promise.all(this.children.map((c) => this.ask(c, 'reset')));
  }

  /** Each child samples its own slots; the parent keeps from each a share in proportion to its active count. */
  async sampleActive(n: number): Promise<ActiveSample> {
    const samples = await Promise.all(this.children.map((c) => this.askSample(c, n)));
    const actives = samples.map((s) => s.active);
    const active = actives.reduce((a, b) => a + b, 0);
    const shares = splitProportionally(Math.min(Math.max(0, Math.floor(n)), active), actives);
    return { active, ids: samples.flatMap((s, k) => s.ids.slice(0, shares[k]!)) };
  }

  private askSample(c: Child, n: number): Promise<ActiveSample> {
    const id = this.nextId++;
    return new Promise<ActiveSample>((resolve) => {
      let data: ActiveSample = { active: 0, ids: [] };
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        c.proc.off('exit', done);
        resolve(data);
      };
      const timer = setTimeout(done, REPLY_TIMEOUT_MS);
      this.waiting.set(id, (m) => {
        if (m.t === 'sample') data = m.data;
        done();
      });
      c.proc.once('exit', done);
      if (!this.post(c, { t: 'sample', id, n })) done();
    });
  }

  stop(): Promise<LoadgenStatus> {
    this.final ??= (async () => {
      await Promise.all(this.children.map((c) => this.ask(c, 'stop')));
      await Promise.all(
        this.children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exited !== undefined || c.proc.exitCode !== null) return resolve();
              const kill = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
              c.proc.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
            }),
        ),
      );
      return this.merged();
    })();
    return this.final;
  }

  private merged(): LoadgenStatus {
    const status = mergeStatuses(
      this.children.map((c) => c.last),
      (nowMs() - this.startedAt) / 1000,
    );
    const dead = this.children.filter((c) => c.exited !== undefined && c.exited !== 'exit code 0').length;
    (status as unknown as Record<string, unknown>).deadProcs = dead;
    return status;
  }

  private post(c: Child, m: ToChild): boolean {
    if (c.exited !== undefined || !c.proc.connected) return false;
    c.proc.send(m);
    return true;
  }

  /** Sends a request and waits for the reply (or the timeout, or the child's death): keeps its last status. */
  private ask(c: Child, t: 'status' | 'reset' | 'stop'): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        c.proc.off('exit', done);
        resolve();
      };
      const timer = setTimeout(done, REPLY_TIMEOUT_MS);
      this.waiting.set(id, (m) => {
        if (m.t === 'status' || m.t === 'stopped') c.last = m.data;
        done();
      });
      c.proc.once('exit', done);
      if (!this.post(c, { t, id })) done();
    });
  }
}
