/** Test helper for the incremental parsers: feed bytes to slot 1 cut at given offsets, as separate reads would. */
import type { HttpResponseParser } from '../parsers/http-response-parser.ts';

/**
 * Feeds `bytes` (a string is latin1) to slot 1 of `parser`, cut at `cuts`; each piece is copied into a larger
 * buffer at an offset, as the shared read buffer would hold it. Returns false at the first feed that fails.
 */
export function feedSplit(parser: HttpResponseParser, bytes: Buffer | string, cuts: number[]): boolean {
  const all = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  let from = 0;
  for (const cut of [...cuts, all.length]) {
    const buf = Buffer.alloc(cut - from + 8, 0x7e);
    all.copy(buf, 3, from, cut);
    if (!parser.feed(1, buf, 3, 3 + cut - from)) return false;
    from = cut;
  }
  return true;
}
