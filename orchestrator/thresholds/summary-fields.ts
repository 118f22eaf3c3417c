/**
 * Which fields a threshold may name: every numeric field of summary.json, read from its schema
 * (report/summary-schema.ts, the one definition of the document), so the list cannot drift from what a report
 * writes. Maps keyed by name (`errors.byCause.<cause>`, `cpu.seconds.<component>`) take any key; a component name
 * `loadgen-3` stands for any load generator in the error message's suggestions.
 */
import type { TSchema } from '@sinclair/typebox';
import { ERROR_CAUSES } from '../../shared/contracts.ts';
import { SummarySchema } from '../report/summary-schema.ts';
import { parseThreshold } from './threshold.ts';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  anyOf?: SchemaNode[];
}

/** Dotted paths to every number or integer in the schema; a map's key is `*`. */
function numericPaths(node: SchemaNode, prefix: string, out: Set<string>): Set<string> {
  if (node.type === 'number' || node.type === 'integer') out.add(prefix);
  for (const [k, v] of Object.entries(node.properties ?? {})) numericPaths(v, prefix ? `${prefix}.${k}` : k, out);
  for (const v of Object.values(node.patternProperties ?? {})) numericPaths(v, `${prefix}.*`, out);
  for (const v of node.anyOf ?? []) numericPaths(v, prefix, out);
  return out;
}

let known: string[] | undefined;

/** Every field a threshold may name, sorted (`*`: any key of a map, e.g. `cpu.seconds.*`). */
export function thresholdFields(): string[] {
  known ??= [...numericPaths(SummarySchema as TSchema as SchemaNode, '', new Set())].sort();
  return known;
}

/** Whether `field` is one of the schema's numeric paths (a `*` matches any one key). */
function isField(field: string, fields: string[]): boolean {
  const parts = field.split('.');
  return fields.some((f) => {
    const fp = f.split('.');
    return fp.length === parts.length && fp.every((p, i) => p === '*' || p === parts[i]);
  });
}

/** The close matches of a field that is not known, for the hint: same section first, then the same last word. */
function nearest(field: string, fields: string[]): string[] {
  const parts = field.split('.');
  const head = parts[0]!, last = parts.at(-1)!.toLowerCase();
  const expand = (f: string) => (f === 'errors.byCause.*' ? ERROR_CAUSES.map((c) => `errors.byCause.${c}`) : [f]);
  const all = fields.flatMap(expand);
  const tail = (f: string) => f.split('.').at(-1)!.toLowerCase();
  const score = (f: string) =>
    (f.startsWith(field) ? 4 : 0) + (f.startsWith(`${head}.`) ? 2 : 0) + (tail(f).startsWith(last.slice(0, 4)) ? 2 : 0) + (tail(f) === last ? 1 : 0);
  const scored = all.map((f) => ({ f, s: score(f) })).filter((x) => x.s >= 2).sort((a, b) => b.s - a.s);
  return scored.filter((x) => x.s >= Math.min(3, scored[0]?.s ?? 0)).slice(0, 6).map((x) => x.f);
}

/** Every problem with a list of thresholds: those that do not parse, and those naming no numeric summary field. */
export function thresholdProblems(texts: string[]): string[] {
  const problems: string[] = [];
  const fields = thresholdFields();
  for (const text of texts) {
    const t = parseThreshold(text);
    if (typeof t === 'string') {
      problems.push(t);
      continue;
    }
    if (!isField(t.field, fields)) {
      const near = nearest(t.field, fields);
      problems.push(`--threshold '${text}': summary.json has no numeric field '${t.field}'${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; the fields are listed in README (Thresholds)`);
    }
  }
  return problems;
}
