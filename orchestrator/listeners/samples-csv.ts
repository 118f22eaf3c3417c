/**
 * samples.csv, the run's raw data, written row by row as samples arrive (a run that is killed still leaves what
 * it measured). The report is computed from this file and run.json only (report/load-run.ts reads it back).
 * Columns: the run's counters (errors by cause as `client_err_<cause>`, delivery latency of the worst load generator
 * and inside the server), then six per component (`<name>_ws_bytes`, `<name>_sock_bytes`, `<name>_cpu_s`,
 * `<name>_up`, `<name>_kmem_bytes`, `<name>_xcheck_bytes`: the same working set read another way, the swarm node
 * engine's stats); an empty cell is a figure the component did not give, never 0. Every field of a RunSample has a
 * column, so report/samples-table.ts rebuilds the same samples from the file.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { ERROR_CAUSES } from '../../shared/contracts.ts';
import type { RunSample } from '../run/sample.ts';
import type { RunListenerFactory } from './listener.ts';

export const BASE_COLUMNS = [
  't_s', 'at_ms', 'phase', 'target', 'server_connections', 'client_active', 'client_connecting', 'client_closed',
  'client_chunks', 'client_messages', 'client_errors', 'server_chunks_sent', 'server_messages_sent', 'event_loop_lag_ms',
  'kernel_tcp_bytes', 'tcp_inuse', 'kernel_slab_bytes',
  'delivery_p50_ms', 'delivery_p99_ms', 'delivery_count', 'server_delivery_p50_ms', 'server_delivery_p99_ms', 'server_delivery_count',
  'server_idle_gc_count', 'server_idle_gc_last_at_ms',
  ...ERROR_CAUSES.map((c) => `client_err_${c}` as const),
  'server_reported_connections',
] as const;
export const COMPONENT_COLUMNS = ['ws_bytes', 'sock_bytes', 'cpu_s', 'up', 'kmem_bytes', 'xcheck_bytes'] as const;

const cell = (v: number | string | undefined): string => (v === undefined ? '' : String(v));

export function csvHeader(componentNames: string[]): string {
  return [...BASE_COLUMNS, ...componentNames.flatMap((n) => COMPONENT_COLUMNS.map((c) => `${n}_${c}`))].join(',');
}

export function csvRow(s: RunSample, componentNames: string[]): string {
  const base = [
    s.t.toFixed(3), s.atMs, s.phase, s.target, s.connections.server, s.connections.client, s.client?.connecting,
    s.client?.closed, s.client?.chunks, s.client?.messages, s.client?.errors, s.server?.chunksSent,
    s.server?.messagesSent, s.server?.eventLoopLagMs, s.kernelTcpBytes, s.tcpInuse, s.kernelSlabBytes,
    s.client?.latencyMs?.p50, s.client?.latencyMs?.p99, s.client?.latencyMs?.count,
    s.server?.deliveryMs?.p50, s.server?.deliveryMs?.p99, s.server?.deliveryMs?.count,
    s.server?.idleGc?.count, s.server?.idleGc?.lastAtMs,
    ...ERROR_CAUSES.map((c) => s.client?.errorsByCause[c]),
    s.connections.serverReported,
  ];
  const per = componentNames.flatMap((name) => {
    const c = s.components.find((x) => x.name === name);
    return [c?.workingSetBytes, c?.kernelSocketBytes, c?.cpuSeconds?.toFixed(2), c ? (c.up ? 1 : 0) : undefined, c?.kernelBytes, c?.crossCheckWorkingSetBytes];
  });
  return [...base, ...per].map(cell).join(',');
}

export const samplesCsv: RunListenerFactory = (run, ctx) => {
  if (!ctx.reportDir) return { close() {} };
  const out = createWriteStream(join(ctx.reportDir, 'samples.csv'));
  let names: string[] | undefined;
  const onSample = (s: RunSample) => {
    if (!names) {
      names = s.components.map((c) => c.name);
      out.write(`${csvHeader(names)}\n`);
    }
    out.write(`${csvRow(s, names)}\n`);
  };
  run.on('sample', onSample);
  return {
    async close() {
      run.off('sample', onSample);
      if (!names) out.write(`${csvHeader([])}\n`);
      out.end();
      await once(out, 'close');
    },
  };
};
