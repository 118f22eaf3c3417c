/**
 * The plan as a person reads it before anything starts (the `plan` command, and the head of every flood). Load
 * generators that differ only by their name, ids and addresses are one line (`loadgen-2..loadgen-40: 39 x 25,000
 * connections`): at 1,000,000 the plan listed 40 of them one per line, 209 before a refusal at 5,000,000.
 */
import { previewDockerPlan } from '../backends/docker/docker-backend.ts';
import type { LoadgenPlan, Plan } from './plan.ts';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const count = (v: number) => v.toLocaleString('en-US');

/** Load generators alike but for name, ids and addresses (compared on consecutive ones: ids stay one range). */
const shape = (l: LoadgenPlan) => JSON.stringify([l.connections, l.procs, l.targets.length, l.targets.map((t) => t.port), l.sourceAddresses.length]);

/** `a` alone, or `first..last` of a list of addresses (each list of the group read at the same position). */
function span(values: string[]): string {
  return values.length === 1 || values[0] === values.at(-1) ? values[0]! : `${values[0]}..${values.at(-1)}`;
}

export function groupLoadgens(loadgens: LoadgenPlan[]): LoadgenPlan[][] {
  const groups: LoadgenPlan[][] = [];
  for (const l of loadgens) {
    const g = groups.at(-1);
    if (g && shape(g[0]!) === shape(l)) g.push(l);
    else groups.push([l]);
  }
  return groups;
}

function loadgenLine(g: LoadgenPlan[]): string {
  const first = g[0]!, last = g.at(-1)!;
  const ids = `ids ${count(first.startIndex)}..${count(last.startIndex + last.connections - 1)}`;
  const targets = first.targets.map((_, i) => span(g.map((l) => l.targets[i]!.host))).join(', ');
  const sources = first.sourceAddresses.map((_, i) => span(g.map((l) => l.sourceAddresses[i]!))).join(', ');
  const nodes = [...new Set(g.map((l) => l.node).filter((n): n is string => n !== undefined))];
  const where = `-> ${targets}${sources ? ` from ${sources}` : ''}${nodes.length ? ` on ${nodes.join(', ')}` : ''}`;
  if (g.length === 1) return `    ${first.name}: ${count(first.connections)} connections (${ids}), ${first.procs} procs ${where}`;
  return `    ${first.name}..${last.name}: ${g.length} x ${count(first.connections)} connections (${ids}), ${first.procs} procs each ${where}`;
}

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
    ...groupLoadgens(plan.loadgens).map(loadgenLine),
    ...nodeLines(plan),
    `  expected memory: server ${mib(plan.expectedMemory.server)}, load generators ${mib(plan.expectedMemory.loadgen)}, kernel ${mib(plan.expectedMemory.kernel)}`,
    ...plan.warnings.map((w) => `  warning: ${w}`),
    ...plan.refusals.map((r) => `  REFUSED: ${r}`),
  ];
  return lines.join('\n');
}
