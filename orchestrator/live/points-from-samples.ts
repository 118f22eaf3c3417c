/**
 * The live page's points rebuilt from a report folder's samples.csv, so report.html draws the same charts, static,
 * from the raw data (and a regenerated report draws them too): each row becomes the RunSample it was written from
 * and goes through the live page's own LivePointBuilder.
 */
import { runSampleFromRow, type SamplesTable } from '../report/samples-table.ts';
import { LivePointBuilder, type LivePoint, type LivePointOptions } from './live-point.ts';

export function livePointsFromSamples(table: SamplesTable, options: LivePointOptions = {}): LivePoint[] {
  const builder = new LivePointBuilder(options);
  return table.rows.map((row) => builder.next(runSampleFromRow(row, table.components)));
}
