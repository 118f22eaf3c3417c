/** `GET /metrics`: a status in Prometheus text format, with the names of METRICS.loadgen (shared/contracts.ts). */
import { ERROR_CAUSES, METRICS, type LoadgenStatus } from '../shared/contracts.ts';

const M = METRICS.loadgen;

export function metricsText(s: LoadgenStatus): string {
  const lines: string[] = [];
  const one = (name: string, type: 'gauge' | 'counter', help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  one(M.target, 'gauge', 'Connections the load generator was asked to hold.', s.target);
  one(M.connecting, 'gauge', 'Connections set up but without a response head yet.', s.connecting);
  one(M.active, 'gauge', 'Connections open with a 2xx response.', s.active);
  one(M.closed, 'counter', 'Connections that were active and then closed.', s.closed);
  one(M.chunks, 'counter', 'HTTP chunks, SSE events or poll answers received.', s.chunks);
  one(M.messages, 'counter', 'Received units carrying a server send timestamp.', s.messages);
  lines.push(`# HELP ${M.errors} Connection failures and ends by cause.`, `# TYPE ${M.errors} counter`);
  for (const cause of ERROR_CAUSES) lines.push(`${M.errors}{cause="${cause}"} ${s.errors[cause]}`);
  lines.push(`# HELP ${M.latency} Delivery latency since start or the last reset, from the server's send timestamp.`, `# TYPE ${M.latency} gauge`);
  const q: Array<[string, number]> = [
    ['0.5', s.latencyMs.p50],
    ['0.9', s.latencyMs.p90],
    ['0.99', s.latencyMs.p99],
    ['1', s.latencyMs.max],
  ];
  for (const [quantile, ms] of q) lines.push(`${M.latency}{quantile="${quantile}"} ${ms / 1000}`);
  return `${lines.join('\n')}\n`;
}
