/**
 * `startServer`: the supervisor. It reserves the port, serves the HTTP API (express) on connections the workers
 * hand over (and on an internal Unix socket for the engines that proxy), forks the workers that hold the streams,
 * and routes sends through the directory. The CLI (cli.ts) and the tests both start the server through this.
 */
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { newEpoch } from '../shared/event-id.ts';
import { EXIT, LabError } from '../shared/errors.ts';
import { loadTcpBindings } from '../shared/raw-tcp/raw-tcp.ts';
import { connectionsPerWorker, resolveWorkers, type ServerOptions } from './config.ts';
import { createApiApp } from './supervisor/api-app.ts';
import { createApiServer } from './supervisor/api-server.ts';
import { withFastSends } from './supervisor/fast-sends.ts';
import { LeanApi } from './supervisor/lean-api.ts';
import { apiSocketPath, removeStaleApiSockets } from './supervisor/api-socket.ts';
import { Directory } from './supervisor/directory.ts';
import { MessageLog } from './supervisor/message-log.ts';
import { SupervisorMetrics } from './supervisor/metrics.ts';
import { type PortReservation, reservePort } from './supervisor/port-reservation.ts';
import { Router } from './supervisor/router.ts';
import { aggregateStats, type CometServerStats, type ProcessFigures } from './supervisor/server-stats.ts';
import { WorkerPool } from './supervisor/worker-pool.ts';
import { collectWhenIdle, fullGc, idleGcRuns } from './worker/idle-gc.ts';
import { countOpenFds, readMaxFds } from './worker/worker-counters.ts';

export interface ServerEvents {
  /** `replaced`: a new worker is started in its place. */
  'worker-exit': [worker: number, pid: number, reason: string, replaced: boolean];
  'worker-restart': [worker: number];
  /** The server cannot go on (a worker kept dying before it was ready): stop it and exit with the error's code. */
  fatal: [error: LabError];
}

/** A running server: what the ready line prints, and how to stop it. */
export interface RunningServer extends EventEmitter<ServerEvents> {
  readonly host: string;
  readonly hosts: string[];
  readonly port: number;
  readonly workers: number;
  readonly engine: string;
  readonly epoch: string;
  readonly pid: number;
  /** The figures of GET /stats; `gc` collects garbage first where --expose-gc allows (GET /stats?gc=1, for benches). */
  stats(gc?: boolean): Promise<CometServerStats>;
  /** Stops accepting, ends every stream with its terminating chunk, stops the workers. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const workers = resolveWorkers(options);
  // the raw engine cannot run without tcp_wrap: say so before forking workers that would die of it
  if (options.engine === 'raw') loadTcpBindings();
  removeStaleApiSockets();
  const reservation = await reservePort(options.hosts, options.port);
  // what a start that fails before its API listens gives back (in reverse): the API, timers, the exit hook, the port;
  // once it listens, stop() does (a failed worker start included)
  const undo: (() => unknown)[] = [() => reservation.release()];
  let up = false;
  try {
    return await startOnPort(options, workers, reservation, undo, () => (up = true));
  } finally {
    if (!up) for (const f of undo.reverse()) await Promise.resolve().then(f).catch(() => undefined);
  }
}

async function startOnPort(options: ServerOptions, workers: number, reservation: PortReservation, undo: (() => unknown)[], listening: () => void): Promise<RunningServer> {
  const port = reservation.port;
  const epoch = newEpoch();
  // a poller is expected back within its poll wait (it re-polls at once after an answer); 5 s at least
  const directory = new Directory(Math.max(options.pollWaitMs, 5000));
  const log = new MessageLog();
  const socketPath = apiSocketPath(port);
  // the last resort when the process ends some other way than stop(): a socket left behind is found by pid later
  const removeSocket = () => {
    try {
      rmSync(socketPath, { force: true });
    } catch {
      // not ours to remove (node --permission without write access to the temp directory): found by pid later
    }
  };
  process.once('exit', removeSocket);
  undo.push(() => process.off('exit', removeSocket), removeSocket);
  const pool = new WorkerPool(
    workers,
    {
      engine: options.engine,
      hosts: options.hosts,
      port,
      backlog: options.backlog,
      intervalMs: options.intervalMs,
      pollWaitMs: options.pollWaitMs,
      headersTimeoutMs: options.headersTimeoutMs,
      maxConnections: connectionsPerWorker(),
      maxQueuedBytes: options.maxQueuedBytes,
      apiSocketPath: socketPath,
      epoch,
    },
    directory,
    options.workerNodeFlags,
  );
  const router = new Router(pool, directory, log);
  const stopIdleGc = collectWhenIdle(() => directory.ops);
  const metrics = new SupervisorMetrics();
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  undo.push(stopIdleGc, () => lag.disable());
  const maxFds = readMaxFds();
  const rejected: Record<string, number> = {};
  const supervisorFigures = (): ProcessFigures => ({
    role: 'supervisor',
    pid: process.pid,
    openFds: countOpenFds(),
    maxFds,
    rssBytes: process.memoryUsage.rss(),
    open: 0,
    idleGc: { ...idleGcRuns },
  });
  const stats = async (gc = false): Promise<CometServerStats> => {
    const lagSeconds = Number.isFinite(lag.max) ? lag.max / 1e9 : 0;
    lag.reset();
    if (gc) fullGc();
    return aggregateStats(await pool.stats(2000, gc), {
      workers,
      engine: options.engine,
      port,
      hosts: options.hosts,
      epoch,
      restarts: pool.restarts,
      deaths: pool.deaths,
      streamsLost: pool.streamsLost,
      lastDeath: pool.lastDeath,
      directoryIds: directory.ids,
      lastSeq: log.lastSeq,
      supervisor: supervisorFigures(),
      lagSeconds,
      rejected,
      apiConnections: { open: api.connections, cap: api.cap, lean: lean?.count ?? 0 },
    });
  };
  const app = createApiApp({
    send: (id, body) => router.send(id, body),
    broadcast: (body) => router.broadcast(body),
    stats,
    metrics: async () => ({
      contentType: metrics.contentType,
      text: await metrics.scrape(await pool.stats(), supervisorFigures(), pool, rejected),
    }),
    health: () => ({ status: pool.readyCount === workers ? 'ok' : 'degraded', workers, workersReady: pool.readyCount, pid: process.pid, uptimeSeconds: process.uptime() }),
    epoch,
    adminToken: options.adminToken,
    gcMinIntervalMs: options.gcMinIntervalMs,
  });
  // Plain routed sends skip express: on the raw handles the raw engine hands over (supervisor/lean-api.ts), and in
  // node:http for the other connections (fast-sends.ts). COMET_FAST_SENDS=0 leaves them all to express (comparison).
  const fast = process.env.COMET_FAST_SENDS !== '0';
  const handler = fast ? withFastSends(app, { send: (id, body) => router.send(id, body), epoch, adminToken: options.adminToken }) : app;
  const lean = fast
    ? new LeanApi({
        send: (id, body) => router.send(id, body),
        epoch,
        adminToken: options.adminToken,
        headersTimeoutMs: options.headersTimeoutMs,
        idleTimeoutMs: options.apiIdleTimeoutMs,
        fallback: (handle, bytes) => api.fromLean(handle, bytes),
      })
    : undefined;
  const api = createApiServer(handler, {
    lean,
    socketPath,
    headersTimeoutMs: options.headersTimeoutMs,
    idleTimeoutMs: options.apiIdleTimeoutMs,
    maxConnections: options.maxApiConnections,
    maxFds,
    handBack: (socket, head) => pool.handBack(socket, head),
    rejected: (status) => (rejected[status] = (rejected[status] ?? 0) + 1),
  });
  // a connection a worker handed over: the request it read so far goes back in front of the socket
  pool.on('api', (handle, bytes) => api.take(handle, bytes));
  removeSocket();
  undo.push(() => api.close());
  try {
    await api.listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new LabError('LAB_ERR_LISTEN', `cannot listen on the internal API socket ${socketPath}: ${code}`, {
      exitCode: EXIT.preflight,
      hint: 'it goes in the temporary directory (TMPDIR, else /tmp): that must be a writable directory',
      cause: err,
    });
  }
  listening(); // from here stop() gives everything back, a failed worker start included

  const server = new EventEmitter<ServerEvents>() as RunningServer & EventEmitter<ServerEvents>;
  pool.on('exit', (w, pid, reason, replaced) => server.emit('worker-exit', w, pid, reason, replaced));
  pool.on('restart', (w) => server.emit('worker-restart', w));
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await pool.shutdown(4000);
      await api.close();
      reservation.release();
      removeSocket();
      process.off('exit', removeSocket);
      lag.disable();
      stopIdleGc();
    })());
  try {
    await pool.start(15_000);
  } catch (err) {
    await stop();
    if (err instanceof LabError) throw err;
    throw new LabError('LAB_ERR_SERVER_START', `workers failed to start: ${err instanceof Error ? err.message : err}`, { cause: err });
  }
  pool.on('fatal', (err) => server.emit('fatal', err));
  return Object.assign(server, { host: options.hosts[0]!, hosts: options.hosts, port, workers, engine: options.engine, epoch, pid: process.pid, stats, stop });
}
