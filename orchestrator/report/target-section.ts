/**
 * report.md's lines about the server under test: what it is, how its connections were counted (and comet-lab's
 * own count beside the kernel's), whether its memory was measured, the phases it could not do, and the thresholds.
 */
import { formatThresholdTable } from '../thresholds/threshold-table.ts';
import type { Summary } from './summarize.ts';

const num = (v: number | undefined) => (v === undefined ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: 0 }));

export function renderTargetSection(s: Summary): string[] {
  const t = s.target;
  const lines = [
    '## Server under test',
    '',
    `**${t.name}**: ${t.description}. Supports ${t.supports.transports.join(', ')}${t.supports.sends ? ', sends' : ''}${t.supports.broadcast ? ', broadcast' : ''}${t.supports.heartbeat ? ', a heartbeat chunk per interval' : ', no heartbeat (chunks delivered % does not apply)'}.`,
    '',
    `- Connections, server side: **${num(s.server.connections)}** at most, counted by the ${s.server.connectionsCountedBy} (established sockets on the server's port)${s.server.reportedConnections !== undefined ? `; the server's own /stats said ${num(s.server.reportedConnections)} at most (cross-check)` : ''}.`,
    s.server.memoryMeasured
      ? `- Memory: ${t.memoryNote ?? `measured by ${s.server.memoryMethod || 'the backend\'s probe'} over the server's processes`}.`
      : `- Memory: **NOT MEASURED**. ${t.memoryNote ?? 'no probe could read the server\'s memory'}. No per-connection memory or CPU figure is given for the server.`,
    ...t.skipped.map((k) => `- Phase **${k.phase}** skipped: ${k.reason}.`),
    '',
  ];
  if (s.thresholds?.length) lines.push('## Thresholds', '', formatThresholdTable(s.thresholds), '');
  return lines;
}
