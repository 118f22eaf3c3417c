/**
 * Workers run plain JavaScript: Node's type stripping loads a WebAssembly compiler that costs every process about
 * 12 MB of anonymous memory (20 MB against 8 MB for an empty script, measured here), paid once per worker, and at
 * a million connections there are more than 50 workers. The supervisor strips the worker's module graph once with
 * module.stripTypeScriptTypes into .lab/worker-js (inside the repository, so bare imports still find node_modules)
 * and forks the .mjs entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;

/** stripTypeScriptTypes warns that it is experimental: known and accepted here, so not printed to the user. */
function quietly<T>(fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: never[]) => {
    if (!String(warning instanceof Error ? warning.message : warning).includes('stripTypeScriptTypes')) emit.call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emit;
  }
}

/** Strips `entry` (a .ts path) and every relative .ts it imports; returns the path of the entry's .mjs. */
export function buildWorkerJs(entry: string, outRoot = join(REPO, '.lab', 'worker-js')): string {
  const sources = new Map<string, string>();
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (sources.has(file)) continue;
    const code = readFileSync(file, 'utf8');
    sources.set(file, code);
    for (const m of code.matchAll(SPECIFIER)) queue.push(resolve(dirname(file), `${m[3]}.ts`));
  }
  const hash = createHash('sha256');
  for (const [file, code] of [...sources].sort(([a], [b]) => a.localeCompare(b))) hash.update(file).update(code);
  const out = join(outRoot, hash.digest('hex').slice(0, 16));
  for (const [file, code] of sources) {
    const target = join(out, relative(REPO, file)).replace(/\.ts$/, '.mjs');
    mkdirSync(dirname(target), { recursive: true });
    const js = quietly(() => stripTypeScriptTypes(code, { mode: 'strip' })).replace(SPECIFIER, '$1$2$3.mjs$2');
    // write then rename: two servers starting at once never see a half-written file
    const tmp = `${target}.${process.pid}.tmp`;
    writeFileSync(tmp, js);
    renameSync(tmp, target);
  }
  return join(out, relative(REPO, resolve(entry))).replace(/\.ts$/, '.mjs');
}
