/**
 * The supervisor's workers: forks them, replaces one that dies (and counts it), batches deliveries to each worker
 * once per event-loop turn, and answers their replay requests. Workers exit by themselves when this process goes
 * away (their IPC channel closes), so even a SIGKILL of the supervisor leaves no orphans.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { EngineOptions } from '../engines/engine.ts';
import type { Delivery, ToSupervisor, ToWorker, WorkerStats } from '../ipc.ts';
import type { Directory } from './directory.ts';
import type { MessageLog } from './message-log.ts';
import { buildWorkerJs } from './worker-build.ts';

const WORKER_MAIN_TS = fileURLToPath(new URL('../worker/worker-main.ts', import.meta.url));
let workerMain: string | undefined;

/**
 * What a worker is told at start (JSON in the COMET_WORKER environment variable): its engine's options, less the
 * counters and IPC sender that only the worker itself can make.
 */
export type WorkerConfig = Omit<EngineOptions, 'counters' | 'send'> & { engine: string };

type Counted = (delivered: number) => void;

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  ready: boolean;
  outbox: Delivery[];
  outboxCallbacks: Counted[];
  inFlight: Map<number, Counted[]>;
  batch: number;
}

export interface WorkerPoolEvents {
  exit: [worker: number, pid: number, reason: string];
  restart: [worker: number];
  api: [handle: unknown, bytes: Buffer];
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly slots: Slot[];
  restarts = 0;
  private stopping = false;
  private flushScheduled = false;
  private statsKey = 0;
  private readonly statsWaiters = new Map<number, (s: WorkerStats) => void>();
  private readonly config: WorkerConfig;
  private readonly directory: Directory;
  private readonly log: MessageLog;
  private readonly nodeFlags: string[];

  constructor(count: number, config: WorkerConfig, directory: Directory, log: MessageLog, nodeFlags: string[] = []) {
    super();
    this.config = config;
    this.directory = directory;
    this.log = log;
    this.nodeFlags = nodeFlags;
    this.slots = Array.from({ length: count }, (_, index) => ({
      index,
      child: undefined,
      ready: false,
      outbox: [],
      outboxCallbacks: [],
      inFlight: new Map(),
      batch: 0,
    }));
  }

  /** Forks every worker; resolves when all are listening, rejects if one fails first or `timeoutMs` passes. */
  start(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending = this.slots.length;
      const timer = setTimeout(() => reject(new Error(`workers not ready after ${timeoutMs} ms`)), timeoutMs);
      for (const slot of this.slots) {
        this.spawn(slot, (err) => {
          if (err) {
            clearTimeout(timer);
            reject(err);
          } else if (--pending === 0) {
            clearTimeout(timer);
            resolve();
          }
        });
      }
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
    const asks = this.slots
      .filter((s) => s.ready)
      .map(
        (slot) =>
          new Promise<WorkerStats | undefined>((resolve) => {
            const k = ++this.statsKey;
            const timer = setTimeout(() => {
              this.statsWaiters.delete(k);
              resolve(undefined);
            }, timeoutMs);
            this.statsWaiters.set(k, (s) => {
              clearTimeout(timer);
              resolve(s);
            });
            this.post(slot, { t: 'stats', k, gc });
          }),
      );
    return (await Promise.all(asks)).filter((s): s is WorkerStats => s !== undefined);
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

  private spawn(slot: Slot, started?: (err?: Error) => void): void {
    workerMain ??= buildWorkerJs(WORKER_MAIN_TS);
    const child = fork(workerMain, [], {
      env: { ...process.env, COMET_WORKER: JSON.stringify({ ...this.config, index: slot.index }) },
      execArgv: this.nodeFlags,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    slot.child = child;
    slot.ready = false;
    child.on('message', (m: ToSupervisor, handle: unknown) => this.onMessage(slot, m, handle, started));
    child.on('error', () => {}); // a failed send to a dying worker; 'exit' follows
    child.once('exit', (code, signal) => {
      const wasReady = slot.ready;
      slot.ready = false;
      slot.child = undefined;
      this.failInFlight(slot);
      this.directory.dropWorker(slot.index);
      const reason = signal ?? `exit code ${code}`;
      this.emit('exit', slot.index, child.pid ?? 0, reason);
      if (!wasReady && started) return started(new Error(`worker ${slot.index} exited before it was ready (${reason})`));
      if (this.stopping) return;
      this.restarts++;
      this.emit('restart', slot.index);
      setTimeout(() => !this.stopping && this.spawn(slot), 200).unref();
    });
  }

  private onMessage(slot: Slot, m: ToSupervisor, handle: unknown, started?: (err?: Error) => void): void {
    switch (m.t) {
      case 'ready':
        slot.ready = true;
        started?.();
        break;
      case 'dir':
        this.directory.apply(slot.index, m.ops);
        break;
      case 'delivered': {
        const callbacks = slot.inFlight.get(m.b);
        slot.inFlight.delete(m.b);
        if (callbacks) for (let i = 0; i < callbacks.length; i++) callbacks[i]!(m.n[i] ?? 0);
        break;
      }
      case 'replay':
        this.post(slot, { t: 'replayed', k: m.k, m: this.log.since(m.id, m.since) });
        break;
      case 'stats':
        this.statsWaiters.get(m.k)?.(m.s);
        this.statsWaiters.delete(m.k);
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
