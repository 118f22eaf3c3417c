/**
 * The orchestrator's Prometheus exporter: a run listener that turns each `sample` into `lab_*` gauges served at
 * `GET /metrics` on a loopback port, so a dashboard shows memory per component, connections per side, the target and
 * the phase without cAdvisor. A component that dies is reported by `lab_component_up 0` and its memory series are
 * removed, so a dead component shows as down and as a gap, never as a fall to zero.
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS } from '../../shared/contracts.ts';
import { LabError } from '../../shared/errors.ts';
import type { RunEventSource } from '../run/flood-run.ts';
import type { RunSample } from '../run/sample.ts';
import { MemoryPerConnection } from './memory-per-connection.ts';

export const COMPONENT_UP_METRIC = 'lab_component_up';
/** 1, labelled with what the run measures: `target` (the server under test), `transport`, `backend`, `engine`. */
export const RUN_INFO_METRIC = 'lab_run_info';
/** 1 per component, labelled with the `node` (host) it runs on: per-node figures join on it. */
export const COMPONENT_INFO_METRIC = 'lab_component_info';

/** What the run is, for lab_run_info. */
export interface RunInfo {
  target: string;
  transport: string;
  backend: string;
  engine: string;
}

export interface LabExporterOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0: the kernel picks a free port
  /** The node (host name) components run on unless a sample names another (default: this host's name). */
  node?: string;
}

export interface LabExporter {
  url: string; // http://host:port/metrics
  port: number;
  registry: Registry;
  /** Applies one sample; the run listener calls this for every `sample` event. */
  observe(sample: RunSample): void;
  setPhase(phase: string): void;
  setRunInfo(info: RunInfo): void;
  /** Subscribes to a run's events; returns a function that unsubscribes. */
  attach(run: RunEventSource): () => void;
  close(): Promise<void>;
}

/** Starts the exporter's HTTP server; resolves once it listens. */
export async function startLabExporter(options: LabExporterOptions = {}): Promise<LabExporter> {
  const host = options.host ?? '127.0.0.1';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const g = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const target = g(METRICS.lab.target, 'Connections the run is ramping to (N).');
  const phase = g(METRICS.lab.phase, '1 for the run phase in progress, 0 for the others.', ['phase']);
  const connections = g(METRICS.lab.connections, 'Connections held, as each side counts them.', ['side']);
  const memory = g(METRICS.lab.memory, 'Memory per component: working set (as docker stats counts it) and kernel socket buffers.', ['component', 'kind']);
  const perConn = g(METRICS.lab.memoryPerConnection, 'Memory growth since the run started, divided by connections held, once 100 are held (component: server, loadgen = all load generators, kernel = host-wide slab growth per server connection); absent where negative.', ['component']);
  const kernelTcp = g(METRICS.lab.kernelTcp, 'Kernel TCP memory of the host, from /proc/net/sockstat.');
  const up = g(COMPONENT_UP_METRIC, '1 while the component runs, 0 once it has died.', ['component', 'role']);
  const info = g(COMPONENT_INFO_METRIC, 'Always 1: the node (host) each component runs on.', ['component', 'role', 'node']);
  const runInfo = g(RUN_INFO_METRIC, 'Always 1: the server under test (target), transport, backend and engine of the run.', ['target', 'transport', 'backend', 'engine']);
  const node = options.node ?? os.hostname();
  const cpu = new Counter({ name: METRICS.lab.cpu, help: 'CPU time (user + system) per component.', labelNames: ['component'], registers: [registry] });

  const perConnection = new MemoryPerConnection();
  const lastCpu = new Map<string, number>();
  const socketsSeen = new Set<string>();
  const phases = new Set<string>();

  function setPhase(p: string): void {
    phases.add(p);
    for (const known of phases) phase.set({ phase: known }, known === p ? 1 : 0);
  }

  function setRunInfo(i: RunInfo): void {
    runInfo.reset();
    runInfo.set({ target: i.target, transport: i.transport, backend: i.backend, engine: i.engine || 'default' }, 1);
  }

  function observe(s: RunSample): void {
    target.set(s.target);
    setPhase(s.phase);
    for (const side of ['server', 'client'] as const) {
      const v = s.connections[side];
      if (v === undefined) connections.remove({ side });
      else connections.set({ side }, v);
    }
    if (s.kernelTcpBytes !== undefined) kernelTcp.set(s.kernelTcpBytes);
    for (const c of s.components) {
      up.set({ component: c.name, role: c.role }, c.up ? 1 : 0);
      info.set({ component: c.name, role: c.role, node }, 1);
      // Socket buffers charged to a group are exported once they have been seen above 0: cgroup v1's kmem.tcp (the
      // local probe, and the Docker probe on v1) reads 0 whatever the sockets hold on this kernel, which is no figure.
      if ((c.kernelSocketBytes ?? 0) > 0) socketsSeen.add(c.name);
      const socket = socketsSeen.has(c.name) ? c.kernelSocketBytes : undefined;
      for (const [kind, v] of [['working_set', c.workingSetBytes], ['kernel_socket', socket]] as const) {
        if (c.up && v !== undefined) memory.set({ component: c.name, kind }, v);
        else memory.remove({ component: c.name, kind });
      }
      if (c.cpuSeconds !== undefined) {
        // The probe gives cumulative CPU time; a counter only moves forward, so a restarted component adds from 0.
        const prev = lastCpu.get(c.name);
        const delta = prev === undefined || c.cpuSeconds < prev ? c.cpuSeconds : c.cpuSeconds - prev;
        if (prev === undefined) cpu.inc({ component: c.name }, 0);
        cpu.inc({ component: c.name }, delta);
        lastCpu.set(c.name, c.cpuSeconds);
      }
    }
    const pc = perConnection.update(s);
    for (const key of ['server', 'loadgen', 'kernel'] as const) {
      const v = pc[key];
      if (v === undefined) perConn.remove({ component: key });
      else perConn.set({ component: key }, v);
    }
  }

  const server = http.createServer(async (req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(req.url === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new LabError('LAB_ERR_EXPORTER_LISTEN', `metrics exporter cannot listen on ${host}:${options.port ?? 0}: ${err.code ?? err.message}`, {
        hint: 'pick another --metrics-port, or 0 for a free one',
        cause: err,
      })),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}/metrics`,
    port,
    registry,
    observe,
    setPhase,
    setRunInfo,
    attach(run) {
      const onSample = (s: RunSample) => observe(s);
      const onPhase = (ev: { name: string }) => setPhase(ev.name);
      const onDone = () => setPhase('done');
      run.on('sample', onSample);
      run.on('phase', onPhase);
      run.on('done', onDone);
      return () => {
        run.off('sample', onSample);
        run.off('phase', onPhase);
        run.off('done', onDone);
      };
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
