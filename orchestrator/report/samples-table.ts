/** Reads samples.csv back into rows of numbers by column (empty cells are undefined; `phase` stays text). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, EXIT } from '../../shared/errors.ts';
import { COMPONENT_COLUMNS } from '../listeners/samples-csv.ts';

export interface SampleRow {
  phase: string;
  values: Map<string, number | undefined>;
}

export interface SamplesTable {
  components: string[];
  rows: SampleRow[];
}

export function parseSamplesCsv(text: string): SamplesTable {
  const lines = text.split('\n').filter(Boolean);
  const header = (lines.shift() ?? '').split(',');
  const suffix = `_${COMPONENT_COLUMNS[0]}`;
  const components = header.filter((h) => h.endsWith(suffix)).map((h) => h.slice(0, -suffix.length));
  const rows = lines.map((line) => {
    const cells = line.split(',');
    const values = new Map<string, number | undefined>();
    header.forEach((h, i) => values.set(h, cells[i] === undefined || cells[i] === '' ? undefined : Number(cells[i])));
    return { phase: cells[header.indexOf('phase')] ?? '', values };
  });
  return { components, rows };
}

export function readSamplesTable(dir: string): SamplesTable {
  try {
    return parseSamplesCsv(readFileSync(join(dir, 'samples.csv'), 'latin1'));
  } catch (err) {
    throw new LabError('LAB_ERR_NO_SAMPLES', `${dir} holds no readable samples.csv: ${(err as Error).message}`, { exitCode: EXIT.usage });
  }
}
