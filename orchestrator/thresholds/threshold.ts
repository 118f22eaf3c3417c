/**
 * Pass/fail thresholds on the run's summary, k6-style: `--threshold 'server.kibPerConnection<6'`. A threshold names
 * any numeric field of summary.json by its dotted path, a comparison and a number. Parsed before anything starts
 * (a bad one is a usage error with every other config problem), evaluated when the report is computed, so a
 * regenerated report evaluates them again. A field the run did not measure fails: a guard that cannot see is not
 * a pass.
 */
export const OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Threshold {
  /** As written. */
  text: string;
  field: string;
  op: Operator;
  value: number;
}

export interface ThresholdResult extends Threshold {
  /** The field's value in this run; absent when the run did not measure it. */
  actual?: number;
  pass: boolean;
  /** Why it failed when there is no number to compare. */
  note?: string;
}

const FORM = /^\s*([A-Za-z][\w.-]*)\s*(<=|>=|==|!=|<|>)\s*(-?[\d_]*\.?\d+(?:e[+-]?\d+)?)\s*$/i;

/** The threshold, or why it does not parse. */
export function parseThreshold(text: string): Threshold | string {
  const m = FORM.exec(text);
  if (!m) return `--threshold '${text}' does not parse: write <field><op><number>, op one of ${OPERATORS.join(' ')} (e.g. 'server.kibPerConnection<6')`;
  return { text: text.trim(), field: m[1]!, op: m[2] as Operator, value: Number(m[3]!.replace(/_/g, '')) };
}

function compare(a: number, op: Operator, b: number): boolean {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '==': return a === b;
    case '!=': return a !== b;
  }
}

/** The value at a dotted path (`memory.server.fit.slope`), if it is a finite number. */
export function fieldValue(obj: unknown, path: string): number | undefined {
  let v: unknown = obj;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function evaluateThresholds(thresholds: Threshold[], summary: object): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = fieldValue(summary, t.field);
    if (actual === undefined) return { ...t, pass: false, note: 'not measured in this run' };
    return { ...t, actual, pass: compare(actual, t.op, t.value) };
  });
}
