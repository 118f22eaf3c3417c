/**
 * The plan for a server listening on one loopback address (the built-in peers and `cmd:` listen on 127.0.0.1
 * only): every load generator connects there. Each load generator keeps its own source address (127.0.1.k), so
 * the 4-tuples stay distinct without a destination address per load generator.
 */
import type { Plan } from '../plan/plan.ts';

export function connectAllTo(plan: Plan, host: string, port = plan.server.port): void {
  plan.server.addresses = [host];
  for (const lg of plan.loadgens) lg.targets = [{ host, port }];
}
