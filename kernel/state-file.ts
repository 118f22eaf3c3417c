/**
 * The values `tune` replaced, so `untune` can put back exactly those. Saved after every write (a crash mid-way still
 * leaves a complete record), tagged with the network namespace it was taken in: restoring per-namespace values in
 * another namespace would be wrong, so both commands refuse that.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, LabError } from '../shared/errors.ts';

export interface SavedState {
  version: 1;
  /** Network namespace the values were read in, e.g. "net:[4026531840]". */
  netns: string;
  profile: string;
  savedAt: string;
  /** Original value of every setting tune changed, as /proc/sys printed it. */
  saved: Record<string, string>;
}

/** `.lab/kernel-saved.json` at the repository root. */
export const DEFAULT_STATE_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '.lab', 'kernel-saved.json');

/** The saved state, or undefined when there is none. Throws LAB_ERR_STATE on a damaged file. */
export function readState(path: string): SavedState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabError('LAB_ERR_STATE', `cannot read ${path}: ${(err as Error).message}`, { exitCode: EXIT.failure });
  }
  try {
    const s = JSON.parse(text) as SavedState;
    if (s.version !== 1 || typeof s.netns !== 'string' || typeof s.saved !== 'object' || s.saved === null) throw new Error('unexpected shape');
    return s;
  } catch (err) {
    throw new LabError('LAB_ERR_STATE', `${path} is not a kernel state file: ${(err as Error).message}`, {
      exitCode: EXIT.usage,
      hint: 'restore the values by hand (they are in the file if it is readable), then delete it',
    });
  }
}

/** Atomic write (temp file + rename), so an interrupted tune never leaves half a file. */
export function writeState(path: string, state: SavedState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

export function removeState(path: string): void {
  rmSync(path, { force: true });
}

/** Refuses a state file taken in another network namespace. */
export function assertSameNetns(path: string, state: SavedState, netns: string): void {
  if (state.netns !== netns) {
    throw new LabError('LAB_ERR_STATE', `${path} was saved in network namespace ${state.netns}, this is ${netns}`, {
      exitCode: EXIT.usage,
      hint: 'run untune inside the namespace that was tuned, or pass --state for a separate file',
    });
  }
}
