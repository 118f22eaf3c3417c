/**
 * The live page's points rebuilt from a report folder's samples.csv, so report.html draws the same charts, static,
 * from the raw data (and a regenerated report draws them too). Memory per connection is recomputed the same way the
 * live page computes it while the run goes.
 */
import type { SamplesTable } from '../report/samples-table.ts';
import type { ComponentSample, LabSample } from '../exporter/lab-sample.ts';
import { MemoryPerConnection } from '../exporter/memory-per-connection.ts';
import { toLivePoint, type LivePoint } from './live-point.ts';

export function livePointsFromSamples(table: SamplesTable): LivePoint[] {
  const perConnection = new MemoryPerConnection();
  return table.rows.map((row) => {
    const v = (col: string) => row.values.get(col);
    const components: ComponentSample[] = table.components.map((name) => {
      const up = v(`${name}_up`);
      return {
        name,
        role: name === 'server' ? 'server' : 'loadgen',
        up: up !== 0,
        ...(up === 0 ? { exited: 'down' } : {}),
        workingSetBytes: v(`${name}_ws_bytes`),
        kernelSocketBytes: v(`${name}_sock_bytes`),
      };
    });
    const sample: LabSample = {
      atMs: v('at_ms') ?? 0,
      phase: row.phase,
      target: v('target') ?? 0,
      connections: { server: v('server_connections'), client: v('client_active') },
      components,
      kernelTcpBytes: v('kernel_tcp_bytes'),
    };
    return toLivePoint(sample, perConnection.update(sample));
  });
}
