/**
 * The control API's token. POSTs (`/ramp`, `/stop`, `/latency/reset`) must carry `Authorization: Bearer <token>`;
 * GETs stay open (they change nothing). The token comes from, first found: `--control-token-file PATH` (or
 * `LOADGEN_CONTROL_TOKEN_FILE`), `LOADGEN_CONTROL_TOKEN`, else a random one this run writes to a fresh file only its
 * user can read, whose path the ready line gives (`controlTokenFile`) and which is removed when the run ends.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownTempDir } from '../shared/temp-dir.ts';

/** Shorter tokens are refused: 16 characters of anything is the least a guess should face. */
export const MIN_TOKEN_LENGTH = 16;

export type TokenSource = 'file' | 'env' | 'generated';

/** Reads the configured token; returns it (or undefined: make one at start) and every problem found. */
export function configuredToken(fromEnv: string | undefined, file: string | undefined): { token?: string; source?: TokenSource; problems: string[] } {
  const problems: string[] = [];
  let token: string | undefined;
  let source: TokenSource | undefined;
  if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').trim();
      source = 'file';
    } catch (err) {
      problems.push(`--control-token-file: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  } else if (fromEnv !== undefined) {
    token = fromEnv.trim();
    source = 'env';
  }
  if (token !== undefined && (token.length < MIN_TOKEN_LENGTH || /\s/.test(token))) {
    problems.push(`${source === 'file' ? `--control-token-file "${file}"` : 'LOADGEN_CONTROL_TOKEN'}: the token must be at least ${MIN_TOKEN_LENGTH} characters with no spaces (e.g. openssl rand -hex 16)`);
  }
  return problems.length > 0 ? { problems } : { token, source, problems };
}

export interface ControlToken {
  readonly token: string;
  readonly source: TokenSource;
  /** The generated token's file (absent when the token was given). */
  readonly file?: string;
  /** Removes the generated file. */
  remove(): void;
}

/** The token to use: the configured one, or a new random one written to a 0600 file in a fresh 0700 folder. */
export function controlToken(configured: string | undefined, source: TokenSource | undefined): ControlToken {
  if (configured !== undefined) return { token: configured, source: source ?? 'env', remove: () => {} };
  const token = randomBytes(24).toString('base64url');
  const dir = ownTempDir('comet-lab-loadgen-');
  const file = join(dir, 'control-token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: 'generated', file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether an Authorization header carries the token (compared in constant time). */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}
