/**
 * The orchestrator's Prometheus exporter: a run listener that turns each `sample` into `lab_*` gauges served at
 * `GET /metrics` on a loopback port, so a dashboard shows memory per component, connections per side, the target and
 * the phase without cAdvisor. A component that dies is reported by `lab_component_up 0` and its memory series are
 * removed, so a dead component shows as down and as a gap, never as a fall to zero.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS } from '../../shared/contracts.ts';
import { LabError } from '../../shared/errors.ts';
import { toLabSample, type LabSample, type RunEventSource } from './lab-sample.ts';
import { MemoryPerConnection } from './memory-per-connection.ts';

export const COMPONENT_UP_METRIC = 'lab_component_up';

export interface LabExporterOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0: the kernel picks a free port
}

export interface LabExporter {
  url: string; // http://host:port/metrics
  port: number;
  registry: Registry;
  /** Applies one sample (already adapted); the run listener calls this for every `sample` event. */
  observe(sample: LabSample): void;
  setPhase(phase: string): void;
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
  const perConn = g(METRICS.lab.memoryPerConnection, 'Memory growth since the run started, divided by connections held (component: server, loadgen = all load generators, kernel).', ['component']);
  const kernelTcp = g(METRICS.lab.kernelTcp, 'Kernel TCP memory of the host, from /proc/net/sockstat.');
  const up = g(COMPONENT_UP_METRIC, '1 while the component runs, 0 once it has died.', ['component', 'role']);
  const cpu = new Counter({ name: METRICS.lab.cpu, help: 'CPU time (user + system) per component.', labelNames: ['component'], registers: [registry] });

  const perConnection = new MemoryPerConnection();
  const lastCpu = new Map<string, number>();
  const phases = new Set<string>();

  function setPhase(p: string): void {
    phases.add(p);
    for (const known of phases) phase.set({ phase: known }, known === p ? 1 : 0);
  }

  function observe(s: LabSample): void {
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
      for (const [kind, v] of [['working_set', c.workingSetBytes], ['kernel_socket', c.kernelSocketBytes]] as const) {
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
    attach(run) {
      const onSample = (raw: unknown) => observe(toLabSample(raw));
      const onPhase = (ev: any) => setPhase(typeof ev === 'string' ? ev : String(ev?.phase ?? ev?.name ?? 'unknown'));
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
