/**
 * A worker process: one engine listening on the shared port (SO_REUSEPORT), its hub, and the IPC loop with the
 * supervisor. Started by supervisor/worker-pool.ts with its configuration in COMET_WORKER. Only the chosen engine
 * is loaded (the raw engine never loads node:http or express, which keeps the per-worker baseline small).
 */
import type { Engine, EngineOptions } from '../engines/engine.ts';
import type { ToSupervisor, ToWorker } from '../ipc.ts';
import type { WorkerConfig } from '../supervisor/worker-pool.ts';
import { collectWhenIdle, fullGc } from './idle-gc.ts';
import { WorkerCounters } from './worker-counters.ts';

const config = JSON.parse(process.env.COMET_WORKER ?? '{}') as WorkerConfig & { index: number };

function send(message: ToSupervisor, handle?: unknown, done?: (err: Error | null) => void): void {
  if (!process.connected) return;
  process.send!(message, handle as never, undefined, done);
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
  const counters = new WorkerCounters(config.index);
  const engine = await loadEngine({ ...config, counters, send });
  let stopping = false;
  process.on('message', (m: ToWorker) => {
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
  send({ t: 'ready', port: config.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`comet-lab worker ${config.index}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
