/**
 * One Prometheus scrape for the whole server: the supervisor's own default metrics plus every worker's figures,
 * written in prom-client's metric JSON and summed by AggregatorRegistry.aggregate (no cluster module needed).
 * Workers send plain numbers (see worker/worker-counters.ts); this is where they become metrics.
 */
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { METRICS, TRANSPORT_NAMES } from '../../shared/contracts.ts';
import { DELIVERY_BUCKETS_S, type WorkerStats } from '../ipc.ts';
import type { ProcessFigures } from './server-stats.ts';

type Json = MetricObjectWithValues<MetricValue<string>> & { aggregator: string };
type Labels = Record<string, string | number>;

function metric(name: string, type: string, help: string, values: MetricValue<string>[], aggregator = 'sum'): Json {
  return { name, type, help, values, aggregator } as unknown as Json;
}
const v = (value: number, labels: Labels = {}, metricName?: string) =>
  ({ value, labels, ...(metricName ? { metricName } : {}) }) as MetricValue<string>;

/** A worker's figures as prom-client metric JSON. */
export function workerMetricsJson(w: WorkerStats): Json[] {
  const s = METRICS.server;
  const closed = Object.entries(w.closed).map(([key, n]) => {
    const i = key.indexOf(':');
    return v(n, { transport: key.slice(0, i), reason: key.slice(i + 1) });
  });
  const hist: MetricValue<string>[] = DELIVERY_BUCKETS_S.map((le, i) => v(w.delivery.buckets[i]!, { le }, `${s.delivery}_bucket`));
  hist.push(v(w.delivery.count, { le: '+Inf' }, `${s.delivery}_bucket`));
  hist.push(v(w.delivery.sum, {}, `${s.delivery}_sum`));
  hist.push(v(w.delivery.count, {}, `${s.delivery}_count`));
  const p = w.process;
  const worker = { worker: w.worker, pid: w.pid };
  return [
    metric(s.open, 'gauge', 'Open comet connections by transport', TRANSPORT_NAMES.map((t, i) => v(w.open[i as 0]!, { transport: t }))),
    metric(s.opened, 'counter', 'Comet connections opened', TRANSPORT_NAMES.map((t, i) => v(w.opened[i as 0]!, { transport: t }))),
    metric(s.closed, 'counter', 'Comet connections closed, by transport and reason', closed),
    metric(s.chunks, 'counter', 'Chunks (events) written to streams, heartbeats included', [v(w.chunksSent)]),
    metric(s.messages, 'counter', 'Routed messages written to streams', [v(w.messagesSent)]),
    metric(s.delivery, 'histogram', 'From accepting a send to writing it to a stream', hist),
    metric(s.lag, 'gauge', 'Worst event-loop delay over the last scrape interval, any process', [v(w.lagSeconds)], 'max'),
    metric('comet_requests_rejected_total', 'counter', 'Requests answered with an error (by the workers, and at the API connection cap), by status',
      Object.entries(w.rejected).map(([status, n]) => v(n, { status }))),
    metric('comet_process_open_fds', 'gauge', 'Open file descriptors per process (limit: comet_process_max_fds)', [v(p.openFds, { role: 'worker', ...worker })]),
    metric('comet_process_max_fds', 'gauge', 'Soft nofile limit per process', [v(p.maxFds, { role: 'worker', ...worker })]),
    metric('comet_process_resident_memory_bytes', 'gauge', 'Resident memory per process', [v(p.rssBytes, { role: 'worker', ...worker })]),
    metric(s.idleGc, 'counter', 'Idle garbage collections per process (after a burst of opens and closes went quiet)', [v(w.idleGc.count, { role: 'worker', ...worker })]),
    metric('comet_stream_resets_total', 'counter', 'Streams that resumed from another server run and were told to reset', [v(w.resets)]),
    // prom-client's default process metrics, for the sum over processes
    metric('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', [v(p.cpuUserSeconds)]),
    metric('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', [v(p.cpuSystemSeconds)]),
    metric('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [v(p.cpuUserSeconds + p.cpuSystemSeconds)]),
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [v(p.rssBytes)]),
    metric('process_open_fds', 'gauge', 'Number of open file descriptors.', [v(p.openFds)]),
    metric('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', [v(p.maxFds)]),
    metric('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', [v(p.heapTotalBytes)]),
    metric('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', [v(p.heapUsedBytes)]),
    metric('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', [v(p.externalBytes)]),
  ];
}

/** The pool's figures the scrape shows. */
export interface PoolFigures {
  restarts: number;
  deaths: number;
  streamsLost: number;
}

/** The supervisor's registry: default process metrics, restarts and deaths, and its own fds. */
export class SupervisorMetrics {
  readonly registry = new Registry();
  private readonly restarts: Counter;
  private readonly deaths: Counter;
  private readonly streamsLost: Counter;
  private readonly idleGc: Counter;
  private readonly fds: Gauge;
  private readonly maxFds: Gauge;
  private readonly rss: Gauge;
  private readonly workers: Gauge;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.restarts = new Counter({ name: METRICS.server.restarts, help: 'Workers replaced after dying', registers: [this.registry] });
    this.deaths = new Counter({ name: METRICS.server.deaths, help: 'Workers that died while the server ran (before ready too)', registers: [this.registry] });
    this.streamsLost = new Counter({ name: METRICS.server.streamsLost, help: 'Streams held by workers that died', registers: [this.registry] });
    this.idleGc = new Counter({ name: METRICS.server.idleGc, help: 'Idle garbage collections per process (after a burst of opens and closes went quiet)', labelNames: ['role', 'worker', 'pid'], registers: [this.registry] });
    this.fds = new Gauge({ name: 'comet_process_open_fds', help: 'Open file descriptors per process (limit: comet_process_max_fds)', labelNames: ['role', 'worker', 'pid'], registers: [this.registry] });
    this.maxFds = new Gauge({ name: 'comet_process_max_fds', help: 'Soft nofile limit per process', labelNames: ['role', 'worker', 'pid'], registers: [this.registry] });
    this.rss = new Gauge({ name: 'comet_process_resident_memory_bytes', help: 'Resident memory per process', labelNames: ['role', 'worker', 'pid'], registers: [this.registry] });
    this.workers = new Gauge({ name: 'comet_workers', help: 'Worker processes ready', registers: [this.registry] });
  }

  /** The whole scrape in Prometheus text format. */
  async scrape(workers: WorkerStats[], sup: ProcessFigures, pool: PoolFigures, rejected: Record<string, number> = {}): Promise<string> {
    this.restarts.reset();
    this.restarts.inc(pool.restarts);
    this.deaths.reset();
    this.deaths.inc(pool.deaths);
    this.streamsLost.reset();
    this.streamsLost.inc(pool.streamsLost);
    const labels = { role: 'supervisor', worker: '', pid: String(sup.pid) };
    this.idleGc.reset();
    this.idleGc.inc(labels, sup.idleGc.count);
    this.fds.set(labels, sup.openFds);
    this.maxFds.set(labels, sup.maxFds);
    this.rss.set(labels, sup.rssBytes);
    this.workers.set(workers.length);
    const own = (await this.registry.getMetricsAsJSON()) as Json[];
    const mine = [metric('comet_requests_rejected_total', 'counter', 'Requests answered with an error (by the workers, and at the API connection cap), by status', Object.entries(rejected).map(([status, n]) => v(n, { status })))];
    const all = [own, mine, ...workers.map(workerMetricsJson)];
    return AggregatorRegistry.aggregate(all as never).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
