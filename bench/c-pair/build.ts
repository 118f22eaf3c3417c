/**
 * Builds the C reference pair (c-server.c, c-client.c) with the host's gcc into `.lab/c-pair/<hash of the sources>/`,
 * once per source version: a second call finds the binaries and compiles nothing. Debian's gcc is installed by
 * scripts/install-system-deps.sh.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, LabError } from '../../shared/errors.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = { server: 'c-server.c', client: 'c-client.c' } as const;
/** -O2 as Debian builds nginx; nothing host-specific (-march=native) so figures compare across machines. */
const CFLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'];

export interface CPairBinaries {
  server: string;
  client: string;
  /** The gcc that built them (`gcc --version` first line). */
  compiler: string;
}

function gccVersion(): string {
  try {
    return execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    throw new LabError('LAB_ERR_NO_GCC', 'the C reference pair needs gcc, which is not installed', {
      exitCode: EXIT.preflight,
      hint: 'run `make system-deps` (bash scripts/install-system-deps.sh) as root: it installs Debian\'s gcc',
    });
  }
}

/** Compiles the pair if this version of its sources was not built yet; returns the binaries' paths. */
export function buildCPair(outRoot = join(REPO, '.lab/c-pair')): CPairBinaries {
  const compiler = gccVersion();
  const hash = createHash('sha256');
  for (const f of Object.values(SOURCES)) hash.update(readFileSync(join(HERE, f)));
  hash.update(compiler).update(CFLAGS.join(' '));
  const dir = join(outRoot, hash.digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  const out = { server: join(dir, 'c-server'), client: join(dir, 'c-client'), compiler };
  for (const [role, src] of Object.entries(SOURCES) as [keyof typeof SOURCES, string][]) {
    if (existsSync(out[role])) continue;
    // Compile beside, then rename: a concurrent build never sees a half-written binary.
    const tmp = `${out[role]}.${process.pid}.tmp`;
    try {
      execFileSync('gcc', [...CFLAGS, '-o', tmp, join(HERE, src)], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
      throw new LabError('LAB_ERR_C_BUILD', `gcc could not build bench/c-pair/${src}:\n${stderr.trim()}`);
    }
    renameSync(tmp, out[role]);
  }
  return out;
}
