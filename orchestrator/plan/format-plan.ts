/** The plan as a person reads it before anything starts (the `plan` command, and the head of every flood). */
import { previewDockerPlan } from '../backends/docker/docker-backend.ts';
import type { Plan } from './plan.ts';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Swarm: what each node gets (load generators: as swarm spreads them, at most ceil(replicas / nodes) each). */
function nodeLines(plan: Plan): string[] {
  if (!plan.nodes) return [];
  return [
    `  nodes: ${plan.nodes.length}`,
    ...plan.nodes.map((x) => {
      const runs = [x.server ? `server (${plan.server.workers} workers)` : '', x.loadgens.length ? `${x.loadgens.length} load generator(s): ${x.loadgens.join(', ')}` : ''].filter(Boolean);
      return `    ${x.name}: ${x.cores} cores, ${mib(x.memoryBytes)}; ${runs.join(' + ') || 'nothing'}; expected ${mib(x.expectedMemoryBytes)}`;
    }),
  ];
}

/** A docker plan is shown as the docker backend will lay it out (container addresses), not the loopback layout. */
export function formatPlan(planned: Plan): string {
  const plan = planned.backend === 'docker' ? previewDockerPlan(planned) : planned;
  const procs = plan.loadgens.reduce((a, l) => a + l.procs, 0);
  const lines = [
    `plan: ${plan.n.toLocaleString('en-US')} ${plan.transport} connections, ${plan.backend} backend, ramp ${plan.rampRate}/s, hold ${plan.holdSeconds}s, heartbeat ${plan.server.heartbeatIntervalMs} ms`,
    `  server: ${plan.server.workers} workers${plan.server.engine ? `, engine ${plan.server.engine}` : ''}, listening on ${plan.server.addresses.join(', ')}:${plan.server.port || '(free port below the ephemeral range)'}`,
    `  load generators: ${plan.loadgens.length} (${procs} processes; up to ${plan.portsPerAddress} ports per destination address, ${plan.fdLimitPerProcess} files per process)`,
    ...plan.loadgens.map((l) => `    ${l.name}: ${l.connections} connections (ids ${l.startIndex}..${l.startIndex + l.connections - 1}), ${l.procs} procs -> ${l.targets.map((t) => t.host).join(', ')}${l.sourceAddresses.length ? ` from ${l.sourceAddresses.join(', ')}` : ''}${l.node ? ` on ${l.node}` : ''}`),
    ...nodeLines(plan),
    `  expected memory: server ${mib(plan.expectedMemory.server)}, load generators ${mib(plan.expectedMemory.loadgen)}, kernel ${mib(plan.expectedMemory.kernel)}`,
    ...plan.warnings.map((w) => `  warning: ${w}`),
    ...plan.refusals.map((r) => `  REFUSED: ${r}`),
  ];
  return lines.join('\n');
}
