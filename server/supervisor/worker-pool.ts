/**
 * The supervisor's workers: forks them, replaces one that dies (and counts it, with the streams it held), batches
 * deliveries to each worker once per event-loop turn, and answers their replay requests. A worker that dies before
 * it is ready is started again after a growing pause and, after MAX_START_FAILURES in a row, the pool gives up
 * ('fatal'). Workers exit by themselves when this process goes away (their IPC channel closes), so even a SIGKILL of
 * the supervisor leaves no orphans.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { LabError } from '../../shared/errors.ts';
import type { EngineOptions } from '../engines/engine.ts';
import type { Delivery, LoggedMessage, ToSupervisor, ToWorker, WorkerStats } from '../ipc.ts';
import type { Directory } from './directory.ts';
import { buildWorkerJs } from './worker-build.ts';

const WORKER_MAIN_TS = fileURLToPath(new URL('../worker/worker-main.ts', import.meta.url));
let workerMain: string | undefined;

/**
 * Starts in a row that may fail before the pool gives up. A worker that dies is started again after RESTART_DELAY_MS;
 * each start that fails doubles the pause before the next one (200, 200, 400, 800, 1600 ms: about 4 s in all).
 */
export const MAX_START_FAILURES = 5;
const RESTART_DELAY_MS = 200;
const MAX_RESTART_DELAY_MS = 5000;

/** Environment a worker never gets: it needs no token, and /proc/<pid>/environ of every worker would show it. */
const SECRET_ENV = ['COMET_ADMIN_TOKEN', 'COMET_ADMIN_TOKEN_FILE'];

/**
 * What a worker is told at start (JSON in the COMET_WORKER environment variable): its engine's options, less the
 * counters, IPC sender and warning printer that only the worker itself can make.
 */
export type WorkerConfig = Omit<EngineOptions, 'counters' | 'send' | 'warn'> & { engine: string };

type Counted = (delivered: number) => void;

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  ready: boolean;
  outbox: Delivery[];
  outboxCallbacks: Counted[];
  inFlight: Map<number, Counted[]>;
  batch: number;
  /** Streams the worker said it holds (its last report, at most OPEN_REPORT_MS old). */
  open: number;
  /** Exits before ready, in a row. */
  startFailures: number;
}

/** The last worker that died unexpectedly. */
export interface WorkerDeath {
  worker: number;
  pid: number;
  reason: string;
  atMs: number;
  streams: number;
}

export interface WorkerPoolEvents {
  /** `replaced`: a new worker is started in its place (false when stopping, or when the pool gives up: 'fatal' follows). */
  exit: [worker: number, pid: number, reason: string, replaced: boolean];
  restart: [worker: number];
  api: [handle: unknown, bytes: Buffer];
  /** A worker kept dying before it was ready: the pool stopped replacing it. */
  fatal: [error: LabError];
}

/** What the pool needs from the router: the messages an id missed after a position (for SSE and poll resume). */
export type ReplaySource = (id: string, since: number) => LoggedMessage[];

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly slots: Slot[];
  restarts = 0;
  /** Workers that exited while the server was not stopping (start failures included). */
  deaths = 0;
  /** Streams the dead workers held. */
  streamsLost = 0;
  lastDeath: WorkerDeath | undefined;
  private stopping = false;
  private failed = false;
  private flushScheduled = false;
  private key = 0;
  private nextHandBack = 0;
  private readonly statsWaiters = new Map<number, (s: WorkerStats) => void>();
  private readonly barrierWaiters = new Map<number, () => void>();
  /** Set by start() until every worker is ready once. */
  private onAllReady: (() => void) | undefined;
  private readonly config: WorkerConfig;
  private readonly directory: Directory;
  private readonly nodeFlags: string[];
  replaySource: ReplaySource = () => [];

  constructor(count: number, config: WorkerConfig, directory: Directory, nodeFlags: string[] = []) {
    super();
    this.config = config;
    this.directory = directory;
    this.nodeFlags = nodeFlags;
    this.slots = Array.from({ length: count }, (_, index) => ({
      index,
      child: undefined,
      ready: false,
      outbox: [],
      outboxCallbacks: [],
      inFlight: new Map(),
      batch: 0,
      open: 0,
      startFailures: 0,
    }));
  }

  /** Forks every worker; resolves when all are listening, rejects when one keeps failing or `timeoutMs` passes. */
  start(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('fatal', onFatal);
        reject(new Error(`workers not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onFatal = (err: LabError) => {
        clearTimeout(timer);
        reject(err);
      };
      this.once('fatal', onFatal);
      this.onAllReady = () => {
        clearTimeout(timer);
        this.off('fatal', onFatal);
        resolve();
      };
      for (const slot of this.slots) this.spawn(slot);
    });
  }

  /** Queues a delivery to one worker; `counted` gets how many streams there received it (0 if the worker died). */
  deliver(worker: number, delivery: Delivery, counted: Counted): void {
    const slot = this.slots[worker]!;
    if (!slot.ready) return counted(0);
    slot.outbox.push(delivery);
    slot.outboxCallbacks.push(counted);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Every live worker's figures (a worker that does not answer within `timeoutMs` is left out). */
  async stats(timeoutMs = 2000, gc = false): Promise<WorkerStats[]> {
    const asks = this.slots.filter((s) => s.ready).map((slot) => this.ask<WorkerStats>(slot, this.statsWaiters, timeoutMs, (k) => ({ t: 'stats', k, gc })));
    return (await Promise.all(asks)).filter((s): s is WorkerStats => s !== undefined);
  }

  /**
   * Resolves once every live worker has sent the directory notices it held when asked (or `timeoutMs` passed):
   * after it, the directory knows every stream whose response head had been written before the barrier.
   */
  async barrier(timeoutMs = 1000): Promise<void> {
    await Promise.all(this.slots.filter((s) => s.ready).map((slot) => this.ask<void>(slot, this.barrierWaiters, timeoutMs, (k) => ({ t: 'barrier', k }))));
  }

  /** Gives a connection (a net.Socket) back to a worker, with the request head it carries next. */
  handBack(socket: unknown, head: Buffer): boolean {
    for (let tries = 0; tries < this.slots.length; tries++) {
      const slot = this.slots[this.nextHandBack++ % this.slots.length]!;
      if (!slot.ready || !slot.child?.connected) continue;
      slot.child.send({ t: 'conn', data: head.toString('base64') } satisfies ToWorker, socket as never);
      return true;
    }
    return false;
  }

  get readyCount(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  pids(): number[] {
    return this.slots.map((s) => s.child?.pid ?? 0).filter((p) => p > 0);
  }

  /** Tells every worker to end its streams and exit; kills the ones still there after `timeoutMs`. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const exits = this.slots.map((slot) => {
      const child = slot.child;
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        this.post(slot, { t: 'shutdown' });
      });
    });
    await Promise.all(exits);
  }

  private ask<T>(slot: Slot, waiters: Map<number, (v: T) => void>, timeoutMs: number, message: (k: number) => ToWorker): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve) => {
      const k = ++this.key;
      const timer = setTimeout(() => {
        waiters.delete(k);
        resolve(undefined);
      }, timeoutMs);
      waiters.set(k, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      this.post(slot, message(k));
    });
  }

  private spawn(slot: Slot): void {
    workerMain ??= buildWorkerJs(WORKER_MAIN_TS);
    const env: NodeJS.ProcessEnv = { ...process.env, COMET_WORKER: JSON.stringify({ ...this.config, index: slot.index }) };
    for (const name of SECRET_ENV) delete env[name];
    const child = fork(workerMain, [], { env, execArgv: this.nodeFlags, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    slot.child = child;
    slot.ready = false;
    slot.open = 0;
    child.on('message', (m: ToSupervisor, handle: unknown) => this.onMessage(slot, m, handle));
    child.on('error', () => {}); // a failed send to a dying worker; 'exit' follows
    child.once('exit', (code, signal) => this.onExit(slot, child.pid ?? 0, signal ?? `exit code ${code}`));
  }

  private onExit(slot: Slot, pid: number, reason: string): void {
    const wasReady = slot.ready;
    const streams = slot.open;
    slot.ready = false;
    slot.child = undefined;
    slot.open = 0;
    this.failInFlight(slot);
    this.directory.dropWorker(slot.index);
    if (this.stopping || this.failed) return void this.emit('exit', slot.index, pid, reason, false);
    this.deaths++;
    this.streamsLost += streams;
    this.lastDeath = { worker: slot.index, pid, reason: wasReady ? reason : `${reason} before it was ready`, atMs: Date.now(), streams };
    slot.startFailures = wasReady ? 0 : slot.startFailures + 1;
    if (slot.startFailures >= MAX_START_FAILURES) {
      this.failed = true;
      this.emit('exit', slot.index, pid, reason, false);
      this.emit(
        'fatal',
        new LabError('LAB_ERR_WORKER_START', `worker ${slot.index} died ${slot.startFailures} times in a row before it was ready (last: ${reason}); giving up`, {
          hint: "the worker's own error is printed above; check COMET_WORKER_NODE_FLAGS, the file limit (ulimit -n) and the port",
        }),
      );
      return;
    }
    const delay = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** Math.max(0, slot.startFailures - 1));
    this.emit('exit', slot.index, pid, reason, true);
    setTimeout(() => {
      if (this.stopping || this.failed) return;
      this.restarts++;
      this.emit('restart', slot.index);
      this.spawn(slot);
    }, delay).unref();
  }

  private onMessage(slot: Slot, m: ToSupervisor, handle: unknown): void {
    switch (m.t) {
      case 'ready':
        slot.ready = true;
        slot.startFailures = 0;
        if (this.onAllReady && this.slots.every((s) => s.ready)) {
          const done = this.onAllReady;
          this.onAllReady = undefined;
          done();
        }
        break;
      case 'dir':
        this.directory.apply(slot.index, m.ops);
        break;
      case 'open':
        slot.open = m.n;
        break;
      case 'delivered': {
        const callbacks = slot.inFlight.get(m.b);
        slot.inFlight.delete(m.b);
        if (callbacks) for (let i = 0; i < callbacks.length; i++) callbacks[i]!(m.n[i] ?? 0);
        break;
      }
      case 'replay':
        this.post(slot, { t: 'replayed', k: m.k, m: this.replaySource(m.id, m.since) });
        break;
      case 'stats':
        this.statsWaiters.get(m.k)?.(m.s);
        this.statsWaiters.delete(m.k);
        break;
      case 'barrier':
        this.barrierWaiters.get(m.k)?.();
        this.barrierWaiters.delete(m.k);
        break;
      case 'api':
        if (handle) this.emit('api', handle, Buffer.from(m.data, 'base64'));
        break;
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const slot of this.slots) {
      if (slot.outbox.length === 0) continue;
      const b = ++slot.batch;
      slot.inFlight.set(b, slot.outboxCallbacks);
      const d = slot.outbox;
      slot.outbox = [];
      slot.outboxCallbacks = [];
      this.post(slot, { t: 'deliver', b, d });
    }
  }

  private failInFlight(slot: Slot): void {
    for (const callbacks of slot.inFlight.values()) for (const cb of callbacks) cb(0);
    slot.inFlight.clear();
    for (const cb of slot.outboxCallbacks) cb(0);
    slot.outbox = [];
    slot.outboxCallbacks = [];
  }

  private post(slot: Slot, message: ToWorker): void {
    const child = slot.child;
    if (child?.connected) child.send(message);
  }
}
