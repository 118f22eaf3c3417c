/**
 * `startServer`: the supervisor. It reserves the port, serves the HTTP API (express) on connections the workers
 * hand over (and on an internal Unix socket for the engines that proxy), forks the workers that hold the streams,
 * and routes sends through the directory. The CLI (cli.ts) and the tests both start the server through this.
 */
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LabError, EXIT } from '../shared/errors.ts';
import { bindRaw, boundPort, closeRaw, RawListenError, type TcpHandle } from '../shared/raw-tcp/raw-tcp.ts';
import { connectionsPerWorker, resolveWorkers, type ServerOptions } from './config.ts';
import { createApiApp } from './supervisor/api-app.ts';
import { Directory } from './supervisor/directory.ts';
import { MessageLog } from './supervisor/message-log.ts';
import { SupervisorMetrics } from './supervisor/metrics.ts';
import { Router } from './supervisor/router.ts';
import { aggregateStats, type CometServerStats, type ProcessFigures } from './supervisor/server-stats.ts';
import { WorkerPool } from './supervisor/worker-pool.ts';
import { collectWhenIdle, fullGc } from './worker/idle-gc.ts';
import { countOpenFds, readMaxFds } from './worker/worker-counters.ts';

export interface ServerEvents {
  'worker-exit': [worker: number, pid: number, reason: string];
  'worker-restart': [worker: number];
}

/** A running server: what the ready line prints, and how to stop it. */
export interface RunningServer extends EventEmitter<ServerEvents> {
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  readonly engine: string;
  readonly pid: number;
  /** The figures of GET /stats; `gc` collects garbage first where --expose-gc allows (GET /stats?gc=1, for benches). */
  stats(gc?: boolean): Promise<CometServerStats>;
  /** Stops accepting, ends every stream with its terminating chunk, stops the workers. Safe to call twice. */
  stop(): Promise<void>;
}

/** Binds the port (no reuse) to learn whether it is free, then reserves it with SO_REUSEPORT for the workers. */
function reservePort(host: string, port: number): TcpHandle {
  try {
    const probe = bindRaw(host, port, false);
    const chosen = boundPort(probe);
    closeRaw(probe);
    return bindRaw(host, chosen, true);
  } catch (err) {
    if (err instanceof RawListenError) {
      throw new LabError('LAB_ERR_PORT_IN_USE', `cannot listen on ${host}:${port}: ${err.code}`, {
        exitCode: EXIT.preflight,
        hint: err.code === 'EADDRINUSE' ? 'another process holds that port: choose --port, or --port 0 for a free one' : undefined,
      });
    }
    throw err;
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const workers = resolveWorkers(options);
  const reserved = reservePort(options.host, options.port);
  const port = boundPort(reserved);
  const directory = new Directory();
  const log = new MessageLog();
  const apiSocketPath = join(tmpdir(), `comet-lab-api-${process.pid}-${port}.sock`);
  const pool = new WorkerPool(
    workers,
    {
      engine: options.engine,
      host: options.host,
      port,
      backlog: options.backlog,
      intervalMs: options.intervalMs,
      pollWaitMs: options.pollWaitMs,
      headersTimeoutMs: options.headersTimeoutMs,
      maxConnections: connectionsPerWorker(),
      maxQueuedBytes: options.maxQueuedBytes,
      apiSocketPath,
    },
    directory,
    log,
    options.workerNodeFlags,
  );
  const router = new Router(pool, directory, log);
  const stopIdleGc = collectWhenIdle(() => directory.ops);
  const metrics = new SupervisorMetrics();
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const maxFds = readMaxFds();
  const supervisorFigures = (): ProcessFigures => ({
    role: 'supervisor',
    pid: process.pid,
    openFds: countOpenFds(),
    maxFds,
    rssBytes: process.memoryUsage.rss(),
    open: 0,
  });
  const stats = async (gc = false): Promise<CometServerStats> => {
    const lagSeconds = Number.isFinite(lag.max) ? lag.max / 1e9 : 0;
    lag.reset();
    if (gc) fullGc();
    return aggregateStats(await pool.stats(2000, gc), {
      workers,
      engine: options.engine,
      port,
      restarts: pool.restarts,
      directoryIds: directory.ids,
      lastSeq: log.lastSeq,
      supervisor: supervisorFigures(),
      lagSeconds,
    });
  };
  const app = createApiApp({
    send: (id, body) => router.send(id, body),
    broadcast: (body) => router.broadcast(body),
    stats,
    metrics: async () => ({
      contentType: metrics.contentType,
      text: await metrics.scrape(await pool.stats(), supervisorFigures(), pool.restarts),
    }),
    health: () => ({ status: pool.readyCount === workers ? 'ok' : 'degraded', workers, workersReady: pool.readyCount, pid: process.pid, uptimeSeconds: process.uptime() }),
    adminToken: options.adminToken,
  });
  const api: Server = createServer(
    {
      maxHeaderSize: 8192,
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: Math.max(options.headersTimeoutMs, 30_000),
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs / 2),
      keepAliveTimeout: 30_000,
    },
    app,
  );
  // a connection a worker handed over: the request it read so far goes back in front of the socket
  pool.on('api', (handle, bytes) => {
    const socket = handle instanceof net.Socket ? handle : new net.Socket({ handle: handle as never, readable: true, writable: true });
    if (bytes.length > 0) socket.unshift(bytes);
    api.emit('connection', socket);
  });
  rmSync(apiSocketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen(apiSocketPath, () => resolve());
  });

  const server = new EventEmitter<ServerEvents>() as RunningServer & EventEmitter<ServerEvents>;
  pool.on('exit', (w, pid, reason) => server.emit('worker-exit', w, pid, reason));
  pool.on('restart', (w) => server.emit('worker-restart', w));
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await pool.shutdown(4000);
      api.closeAllConnections();
      await new Promise<void>((resolve) => api.close(() => resolve()));
      closeRaw(reserved);
      rmSync(apiSocketPath, { force: true });
      lag.disable();
      stopIdleGc();
    })());
  try {
    await pool.start(15_000);
  } catch (err) {
    await stop();
    throw new LabError('LAB_ERR_SERVER_START', `workers failed to start: ${err instanceof Error ? err.message : err}`, { cause: err });
  }
  return Object.assign(server, { host: options.host, port, workers, engine: options.engine, pid: process.pid, stats, stop });
}
