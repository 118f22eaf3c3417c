/** Reads samples.csv back into rows of numbers by column (empty cells are undefined; `phase` stays text). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, EXIT } from '../../shared/errors.ts';
import { ERROR_CAUSES, type ErrorCause } from '../../shared/contracts.ts';
import { COMPONENT_COLUMNS } from '../listeners/samples-csv.ts';
import type { ComponentSample, LatencyPercentiles, RunSample } from '../run/sample.ts';

export interface SampleRow {
  phase: string;
  values: Map<string, number | undefined>;
}

export interface SamplesTable {
  components: string[];
  rows: SampleRow[];
}

export function parseSamplesCsv(text: string): SamplesTable {
  const lines = text.split('\n').filter(Boolean);
  const header = (lines.shift() ?? '').split(',');
  const suffix = `_${COMPONENT_COLUMNS[0]}`;
  const components = header.filter((h) => h.endsWith(suffix)).map((h) => h.slice(0, -suffix.length));
  const rows = lines.map((line) => {
    const cells = line.split(',');
    const values = new Map<string, number | undefined>();
    header.forEach((h, i) => values.set(h, cells[i] === undefined || cells[i] === '' ? undefined : Number(cells[i])));
    return { phase: cells[header.indexOf('phase')] ?? '', values };
  });
  return { components, rows };
}

export function readSamplesTable(dir: string): SamplesTable {
  try {
    return parseSamplesCsv(readFileSync(join(dir, 'samples.csv'), 'latin1'));
  } catch (err) {
    throw new LabError('LAB_ERR_NO_SAMPLES', `${dir} holds no readable samples.csv: ${(err as Error).message}`, { exitCode: EXIT.usage });
  }
}

/**
 * The RunSample a row of samples.csv was written from (listeners/samples-csv.ts writes every field), so the report
 * draws its charts with the same code as the live page. Cells that were empty stay absent.
 */
export function runSampleFromRow(row: SampleRow, components: string[]): RunSample {
  const v = (col: string) => row.values.get(col);
  const latency = (prefix: string): LatencyPercentiles | undefined => {
    const p50 = v(`${prefix}_p50_ms`), p99 = v(`${prefix}_p99_ms`), count = v(`${prefix}_count`);
    return p50 !== undefined && p99 !== undefined ? { p50, p99, count: count ?? 0 } : undefined;
  };
  const clientLatency = latency('delivery');
  const serverLatency = latency('server_delivery');
  const active = v('client_active');
  const sent = v('server_chunks_sent');
  const gcCount = v('server_idle_gc_count');
  return {
    atMs: v('at_ms') ?? 0,
    t: v('t_s') ?? 0,
    phase: row.phase,
    target: v('target') ?? 0,
    connections: { server: v('server_connections'), client: active, ...(v('server_reported_connections') !== undefined ? { serverReported: v('server_reported_connections') } : {}) },
    client: active === undefined
      ? undefined
      : {
          connecting: v('client_connecting') ?? 0,
          closed: v('client_closed') ?? 0,
          chunks: v('client_chunks') ?? 0,
          messages: v('client_messages') ?? 0,
          errors: v('client_errors') ?? 0,
          errorsByCause: Object.fromEntries(ERROR_CAUSES.map((c) => [c, v(`client_err_${c}`) ?? 0])) as Record<ErrorCause, number>,
          ...(clientLatency ? { latencyMs: clientLatency } : {}),
        },
    server: sent === undefined
      ? undefined
      : {
          chunksSent: sent,
          messagesSent: v('server_messages_sent') ?? 0,
          eventLoopLagMs: v('event_loop_lag_ms') ?? 0,
          ...(serverLatency ? { deliveryMs: serverLatency } : {}),
          ...(gcCount !== undefined ? { idleGc: { count: gcCount, lastAtMs: v('server_idle_gc_last_at_ms') ?? 0 } } : {}),
        },
    components: components.map((name): ComponentSample => {
      const up = v(`${name}_up`);
      const opt = (key: keyof ComponentSample, col: string) => (v(col) === undefined ? {} : { [key]: v(col) });
      return {
        name,
        role: name === 'server' ? 'server' : 'loadgen',
        up: up !== 0,
        ...(up === 0 ? { exited: 'down' } : {}),
        ...opt('workingSetBytes', `${name}_ws_bytes`),
        ...opt('kernelSocketBytes', `${name}_sock_bytes`),
        ...opt('kernelBytes', `${name}_kmem_bytes`),
        ...opt('cpuSeconds', `${name}_cpu_s`),
      };
    }),
    kernelTcpBytes: v('kernel_tcp_bytes') ?? 0,
    tcpInuse: v('tcp_inuse') ?? 0,
    ...(v('kernel_slab_bytes') === undefined ? {} : { kernelSlabBytes: v('kernel_slab_bytes') }),
  };
}
