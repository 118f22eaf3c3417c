/**
 * Memory per component and per node (swarm: components run on several hosts), from samples.csv and run.json: each
 * component's mean working set over the hold as its probe read it, and beside it the same container read another way
 * (`<name>_xcheck_bytes`: the node engine's stats) where the backend could; then summed per node.
 */
import type { RunRecord } from './run-record.ts';
import type { SamplesTable } from './samples-table.ts';

export interface ComponentMemory {
  name: string;
  role: string;
  /** The host it ran on (swarm node), where the backend says. */
  node?: string;
  method?: string;
  /** Mean working set over the hold (bytes). */
  holdBytes?: number;
  /** Mean of the cross-check reading over the same samples (bytes). */
  crossCheckHoldBytes?: number;
}

export interface NodeMemory {
  node: string;
  server: boolean;
  loadgens: string[];
  holdBytes?: number;
  crossCheckHoldBytes?: number;
}

const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : undefined);

export function componentMemory(table: SamplesTable, record: RunRecord): ComponentMemory[] {
  const hold = table.rows.filter((r) => r.phase === 'hold');
  const rows = hold.length ? hold : table.rows;
  const col = (name: string) => rows.map((r) => r.values.get(name)).filter((v): v is number => v !== undefined);
  return table.components.map((name) => {
    const rec = record.outcome?.components.find((c) => c.name === name);
    return {
      name,
      role: rec?.role ?? (name === 'server' ? 'server' : 'loadgen'),
      ...(rec?.node ? { node: rec.node } : {}),
      ...(rec?.method ? { method: rec.method } : {}),
      holdBytes: mean(col(`${name}_ws_bytes`)),
      crossCheckHoldBytes: mean(col(`${name}_xcheck_bytes`)),
    };
  });
}

/** Sums per node; undefined when no component names a node (one-host backends). */
export function nodeMemory(components: ComponentMemory[]): NodeMemory[] | undefined {
  if (!components.some((c) => c.node)) return undefined;
  const nodes = [...new Set(components.map((c) => c.node ?? 'unknown'))].sort();
  const sum = (cs: ComponentMemory[], f: (c: ComponentMemory) => number | undefined) =>
    cs.every((c) => f(c) !== undefined) ? cs.reduce((a, c) => a + f(c)!, 0) : undefined;
  return nodes.map((node) => {
    const on = components.filter((c) => (c.node ?? 'unknown') === node);
    return {
      node,
      server: on.some((c) => c.role === 'server'),
      loadgens: on.filter((c) => c.role === 'loadgen').map((c) => c.name),
      holdBytes: sum(on, (c) => c.holdBytes),
      crossCheckHoldBytes: sum(on, (c) => c.crossCheckHoldBytes),
    };
  });
}
