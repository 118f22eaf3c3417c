/**
 * A worker process: one engine listening on the shared port (SO_REUSEPORT), its hub, and the IPC loop with the
 * supervisor. Started by supervisor/worker-pool.ts with its configuration in COMET_WORKER. Only the chosen engine
 * is loaded (the raw engine never loads node:http or express, which keeps the per-worker baseline small).
 */
import type { Engine, EngineOptions } from '../engines/engine.ts';
import { OPEN_REPORT_MS, type ToSupervisor, type ToWorker } from '../ipc.ts';
import type { WorkerConfig } from '../supervisor/worker-pool.ts';
import { setEpoch } from '../transports/event-position.ts';
import { collectWhenIdle, fullGc } from './idle-gc.ts';
import { WorkerCounters } from './worker-counters.ts';

const config = JSON.parse(process.env.COMET_WORKER ?? '{}') as WorkerConfig & { index: number };

// a send that fails because the supervisor is going away (EPIPE) goes to the callback, not to an 'error' event that
// would end this process with a stack trace: the channel's 'disconnect' ends it cleanly right after
const ignoreSendError = () => {};

function send(message: ToSupervisor, handle?: unknown, done?: (err: Error | null) => void): void {
  if (!process.connected) return;
  process.send!(message, handle as never, undefined, done ?? ignoreSendError);
}

// at most one warning line a second, so a flood of bad requests cannot flood the log
let warnedAt = 0;
let suppressed = 0;
function warn(line: string): void {
  const now = Date.now();
  if (now - warnedAt < 1000) {
    suppressed++;
    return;
  }
  warnedAt = now;
  const more = suppressed > 0 ? ` (${suppressed} more like it suppressed)` : '';
  suppressed = 0;
  process.stderr.write(`comet-lab worker ${config.index}: ${line.replace(/[\r\n]+/g, ' ').slice(0, 300)}${more}\n`);
}

// The supervisor decides when to stop (Ctrl-C reaches the whole process group); if it is gone, so are we.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.exit(0));

async function loadEngine(options: EngineOptions): Promise<Engine> {
  switch (config.engine) {
    case 'raw':
      return (await import('../engines/raw-engine.ts')).createRawEngine(options);
    case 'net':
      return (await import('../engines/net-engine.ts')).createNetEngine(options);
    case 'http':
      return (await import('../engines/http-engine.ts')).createHttpEngine(options);
    case 'express':
      return (await import('../engines/express-engine.ts')).createExpressEngine(options);
    default:
      throw new Error(`unknown engine ${config.engine}`);
  }
}

async function main(): Promise<void> {
  setEpoch(config.epoch);
  const counters = new WorkerCounters(config.index);
  const engine = await loadEngine({ ...config, counters, send, warn });
  let stopping = false;
  process.on('message', (m: ToWorker, handle: unknown) => {
    switch (m.t) {
      case 'deliver':
        send({ t: 'delivered', b: m.b, n: engine.hub.deliver(m.d) });
        break;
      case 'replayed':
        engine.hub.replayed(m.k, m.m);
        break;
      case 'stats':
        if (m.gc) fullGc();
        send({ t: 'stats', k: m.k, s: counters.snapshot() });
        break;
      case 'barrier':
        // the notices go first on the same channel, so the supervisor has them when it reads the answer
        engine.hub.flushDirectory();
        send({ t: 'barrier', k: m.k });
        break;
      case 'conn':
        if (handle && engine.adopt && !stopping) engine.adopt(handle, Buffer.from(m.data, 'base64'));
        else (handle as { destroy?(): void; close?(): void } | undefined)?.destroy?.();
        break;
      case 'shutdown':
        if (stopping) return;
        stopping = true;
        void engine.stopAccepting().then(() => {
          engine.hub.shutdown();
          // let the terminating chunks and FINs leave before the process (and its sockets) go
          setTimeout(() => process.exit(0), 150);
        });
        break;
    }
  });
  await engine.listen();
  // streams opened plus closed: a ramp (or a teardown) followed by quiet triggers one collection
  collectWhenIdle(() => counters.opened.reduce((a, b) => a + b, 0) + counters.closedTotal);
  // the supervisor counts the streams a worker held when it died from these reports (at most OPEN_REPORT_MS old)
  let reported = 0;
  setInterval(() => {
    const n = counters.open.reduce((a, b) => a + b, 0);
    if (n !== reported) send({ t: 'open', n });
    reported = n;
  }, OPEN_REPORT_MS).unref();
  send({ t: 'ready', port: config.port });
}

main().catch((err: unknown) => {
  const code = (err as { code?: string }).code;
  process.stderr.write(`comet-lab worker ${config.index}: ${code ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
