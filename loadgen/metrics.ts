/** `GET /metrics`: a status in Prometheus text format, with the names of METRICS.loadgen (shared/contracts.ts). */
import { ERROR_CAUSES, METRICS, type LoadgenStatus } from '../shared/contracts.ts';

const M = METRICS.loadgen;

export function metricsText(s: LoadgenStatus): string {
  const lines: string[] = [];
  // the transport as a label: a dashboard shows one row per transport when load generators of several run at once
  const byTransport = s.transport === undefined ? '' : `{transport="${s.transport}"}`;
  const one = (name: string, type: 'gauge' | 'counter', help: string, value: number, labels = '') => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
  };
  one(M.target, 'gauge', 'Connections the load generator was asked to hold.', s.target);
  one(M.connecting, 'gauge', 'Connections set up but without a response head yet.', s.connecting);
  one(M.active, 'gauge', 'Connections open (a 2xx response; a valid 101 for WebSocket).', s.active, byTransport);
  one(M.closed, 'counter', 'Connections that were active and then closed.', s.closed);
  one(M.chunks, 'counter', 'HTTP chunks, SSE events, poll answers or WebSocket messages received.', s.chunks, byTransport);
  one(M.messages, 'counter', 'Received units carrying a server send timestamp.', s.messages, byTransport);
  lines.push(`# HELP ${M.errors} Connection failures and ends by cause.`, `# TYPE ${M.errors} counter`);
  for (const cause of ERROR_CAUSES) lines.push(`${M.errors}{cause="${cause}"} ${s.errors[cause]}`);
  if (s.wsCloseCodes !== undefined) {
    lines.push(`# HELP ${M.wsCloses} WebSocket close frames from the server, by close code.`, `# TYPE ${M.wsCloses} counter`);
    for (const [code, n] of Object.entries(s.wsCloseCodes)) lines.push(`${M.wsCloses}{code="${code}"} ${n}`);
  }
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
