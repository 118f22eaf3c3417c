/**
 * The command lines of the lab's own programs, from a plan: one place that knows server/cli.ts's and
 * loadgen/cli.ts's flags, shared by every backend that starts them as processes.
 */
import type { Transport } from '../../shared/contracts.ts';
import { CONNECTION_COSTS } from '../../kernel/costs.ts';
import type { LoadgenPlan, Plan } from '../plan/plan.ts';
import { PLANNING } from '../plan/planner.ts';

/** Stream path prefix of each transport on the server (server/http/routes.ts). */
export const STREAM_PREFIX: Record<Transport, string> = { chunked: 'test', sse: 'sse', poll: 'poll', ws: 'ws' };

export function serverArgs(plan: Plan, port: number): string[] {
  return [
    'server/cli.ts',
    `--host=${plan.server.addresses.join(',') || '127.0.0.1'}`,
    `--port=${port}`,
    `--workers=${plan.server.workers}`,
    ...(plan.server.engine ? [`--engine=${plan.server.engine}`] : []),
    `--interval=${plan.server.heartbeatIntervalMs}ms`,
  ];
}

/** `durationSeconds` bounds the load generator's life: it stops by itself even if the orchestrator is gone. */
export function loadgenArgs(plan: Plan, lg: LoadgenPlan, port: number, durationSeconds: number): string[] {
  const target = lg.targets[0]!;
  return [
    'loadgen/cli.ts',
    `--url=http://${target.host}:${port}${plan.target?.streamPath ?? `/${STREAM_PREFIX[plan.transport]}/{i}`}`,
    ...(plan.target?.loadgenFlags ?? []),
    `--transport=${plan.transport}`,
    `--start=${lg.startIndex}`,
    `--count=${lg.connections}`,
    `--procs=${lg.procs}`,
    ...(lg.sourceAddresses.length ? [`--source-ips=${lg.sourceAddresses.join(',')}`] : []),
    '--control-port=0',
    '--hold', // open nothing until the run's POST /ramp (a count alone opens at the default pace)
    `--duration=${Math.ceil(durationSeconds)}s`,
  ];
}

/** A server flag's value from a command line or service args (`--workers=4` or `--workers 4`). */
export function serverFlag(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.slice(args[i]!.indexOf('=') + 1) : args[i + 1];
}

/**
 * Connections one server worker of a lab (docker or swarm) is counted on under its file limit: the planner's own
 * figure (the per-process fd reserve, filled to PLANNING.serverFill), so a lab sized by the planner for N holds N.
 */
export function serverWorkerCapacity(nofile: number): number {
  return Math.max(1, Math.floor((nofile - CONNECTION_COSTS.fdReservePerProcess) * PLANNING.serverFill));
}
