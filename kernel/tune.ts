/**
 * tune(profile): writes each setting, saving the value it replaced; untune(): writes the saved values back. A setting
 * that cannot be written (absent in this kernel or namespace, read-only, not root, refused) is reported on its own
 * and the rest still apply. Neither prints: each result goes to `onResult` and the whole list is returned.
 */
import type { Profile, ProfileSetting } from './profile.ts';
import type { Scope } from './settings.ts';
import { assertSameNetns, readState, removeState, writeState, type SavedState } from './state-file.ts';
import { currentNetns, readSysctl, writeSysctl, type WriteFailure } from './sysctl.ts';

export type SettingStatus = 'applied' | 'unchanged' | 'restored' | 'failed';

export interface SettingResult {
  key: string;
  status: SettingStatus;
  /** Value before (undefined when absent). */
  from?: string;
  /** Value asked for. */
  to: string;
  /** Value read back after the write, when it differs from `to` (the kernel clamped it). */
  actual?: string;
  reason?: WriteFailure | 'clamped';
  detail?: string;
}

export interface TuneOptions {
  statePath: string;
  /** Only the settings with this scope (netns: what a network namespace or container can set for itself). */
  scope?: Scope;
  /** Only keys starting with one of these prefixes, e.g. ["net."]. */
  keys?: string[];
  onResult?: (r: SettingResult) => void;
}

export interface TuneReport {
  results: SettingResult[];
  statePath: string;
  failed: number;
}

/** The profile's settings that pass the scope and key filters. */
export function selectSettings(profile: Profile, options: Pick<TuneOptions, 'scope' | 'keys'>): ProfileSetting[] {
  return profile.settings.filter(
    (s) => (!options.scope || s.scope === options.scope) && (!options.keys || options.keys.some((k) => s.key.startsWith(k))),
  );
}

function write(key: string, to: string, from: string | undefined, ok: SettingStatus): SettingResult {
  const out = writeSysctl(key, to);
  if (!out.ok) {
    const reason = out.reason === 'read-only' && process.getuid?.() !== 0 ? 'not-permitted' : out.reason;
    const detail = reason === 'not-permitted' ? `needs root (${out.detail})` : out.detail;
    return { key, status: 'failed', from, to, reason, detail };
  }
  if (out.value !== to) {
    return { key, status: 'failed', from, to, actual: out.value, reason: 'clamped', detail: `the kernel kept ${out.value}` };
  }
  return { key, status: ok, from, to };
}

/** Records (or, with undefined, forgets) one original; the file goes when nothing is left to restore. */
function save(path: string, state: SavedState, key: string, original: string | undefined): void {
  if (original === undefined) delete state.saved[key];
  else state.saved[key] = original;
  state.savedAt = new Date().toISOString();
  if (Object.keys(state.saved).length === 0) removeState(path);
  else writeState(path, state);
}

/** Applies a profile (filtered), saving replaced values in options.statePath; earlier saved originals are kept. */
export function tune(profile: Profile, options: TuneOptions): TuneReport {
  const netns = currentNetns();
  const prior = readState(options.statePath);
  if (prior) assertSameNetns(options.statePath, prior, netns);
  const state: SavedState = prior ?? { version: 1, netns, profile: profile.name, savedAt: new Date().toISOString(), saved: {} };
  state.profile = profile.name;
  const results: SettingResult[] = [];
  for (const s of selectSettings(profile, options)) {
    const from = readSysctl(s.key);
    let r: SettingResult;
    if (from === undefined) r = { key: s.key, status: 'failed', to: s.value, reason: 'absent', detail: 'not present in this kernel or namespace' };
    else if (from === s.value) r = { key: s.key, status: 'unchanged', from, to: s.value };
    else {
      // Save the original before writing: a tune killed between the two still leaves a record to undo. A later
      // tune keeps the first original; a write that fails takes its record back out.
      const fresh = !(s.key in state.saved);
      if (fresh) save(options.statePath, state, s.key, from);
      r = write(s.key, s.value, from, 'applied');
      if (fresh && r.status === 'failed' && r.reason !== 'clamped') save(options.statePath, state, s.key, undefined);
    }
    results.push(r);
    options.onResult?.(r);
  }
  return { results, statePath: options.statePath, failed: results.filter((r) => r.status === 'failed').length };
}

/** Writes back every saved value; the state file keeps only what could not be restored (and goes when empty). */
export function untune(options: Pick<TuneOptions, 'statePath' | 'onResult'>): TuneReport & { nothingSaved: boolean } {
  const state = readState(options.statePath);
  if (!state) return { results: [], statePath: options.statePath, failed: 0, nothingSaved: true };
  assertSameNetns(options.statePath, state, currentNetns());
  const results: SettingResult[] = [];
  for (const [key, original] of Object.entries(state.saved)) {
    const from = readSysctl(key);
    const r = from === original ? { key, status: 'unchanged' as const, from, to: original } : write(key, original, from, 'restored');
    if (r.status !== 'failed') delete state.saved[key];
    results.push(r);
    options.onResult?.(r);
  }
  if (Object.keys(state.saved).length === 0) removeState(options.statePath);
  else writeState(options.statePath, state);
  return { results, statePath: options.statePath, failed: results.filter((r) => r.status === 'failed').length, nothingSaved: false };
}
