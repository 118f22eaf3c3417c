/**
 * Sysctl profiles: plain drop-in files (`key = value`, valid for `sysctl -p` and /etc/sysctl.d), where every setting
 * is preceded by a one-line reason marked with its scope: `# netns: why` or `# host: why`. Parsing is strict and
 * reports every problem at once as `file:line: message`; nothing is applied from a profile that has one.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, LabError } from '../shared/errors.ts';
import { normaliseValue } from './sysctl.ts';
import { checkValue, SETTINGS, type Scope } from './settings.ts';

export interface ProfileSetting {
  key: string;
  /** Whitespace-normalised, as /proc/sys prints it. */
  value: string;
  scope: Scope;
  reason: string;
  line: number;
}

export interface Profile {
  name: string;
  file: string;
  settings: ProfileSetting[];
}

/** Folder of the shipped profiles (kernel/profiles). */
export const PROFILES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'profiles');

const MARK = /^#\s*(netns|host)\s*:\s*(\S.*)$/;
const SETTING = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/;

function profileError(problems: string[], hint?: string): LabError {
  return new LabError('LAB_ERR_PROFILE', problems.join('\n'), { exitCode: EXIT.usage, hint });
}

/** Parses profile text; throws LabError LAB_ERR_PROFILE (exit 2) listing every problem with file and line. */
export function parseProfile(text: string, file: string, name = basename(file, '.conf')): Profile {
  const problems: string[] = [];
  const settings: ProfileSetting[] = [];
  const seen = new Map<string, number>();
  let mark: { scope: Scope; reason: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    const at = `${file}:${lineNo}`;
    const pending = mark;
    mark = undefined;
    if (line === '') return;
    if (line.startsWith('#') || line.startsWith(';')) {
      const m = line.match(MARK);
      if (m) mark = { scope: m[1] as Scope, reason: m[2].trim() };
      return;
    }
    const m = line.match(SETTING);
    if (!m) return void problems.push(`${at}: not "key = value" or a comment: "${line}"`);
    const key = m[1];
    const value = key === 'net.ipv4.ip_local_reserved_ports' ? m[2].trim() : normaliseValue(m[2]);
    const spec = SETTINGS[key];
    if (!pending) problems.push(`${at}: ${key} needs a reason on the line above: "# netns: why" or "# host: why"`);
    else if (spec && pending.scope !== spec.scope) {
      problems.push(`${at}: ${key} is ${spec.scope === 'host' ? 'host-wide' : 'per network namespace'}, marked "${pending.scope}"`);
    }
    for (const p of checkValue(key, value)) problems.push(`${at}: ${p}`);
    const first = seen.get(key);
    if (first !== undefined) problems.push(`${at}: ${key} is already set on line ${first}`);
    seen.set(key, lineNo);
    settings.push({ key, value, scope: spec?.scope ?? 'host', reason: pending?.reason ?? '', line: lineNo });
  });
  if (settings.length === 0 && problems.length === 0) problems.push(`${file}: no settings`);
  if (problems.length > 0) throw profileError(problems, 'fix the lines above; nothing was applied');
  return { name, file, settings };
}

/** Names of the shipped profiles. */
export function profileNames(dir = PROFILES_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.conf')).map((f) => basename(f, '.conf')).sort();
}

/** A shipped profile by name (`c1m`), or any profile file by path (anything with a `/` or ending in `.conf`). */
export function loadProfile(nameOrPath: string, dir = PROFILES_DIR): Profile {
  const isPath = nameOrPath.includes('/') || nameOrPath.endsWith('.conf');
  const file = isPath ? nameOrPath : join(dir, `${nameOrPath}.conf`);
  if (!isPath && !/^[a-z0-9][a-z0-9-]*$/.test(nameOrPath)) {
    throw profileError([`bad profile name "${nameOrPath}"`], `profiles: ${profileNames(dir).join(', ')}`);
  }
  if (!existsSync(file)) {
    throw profileError([`unknown profile "${nameOrPath}" (no ${file})`], `profiles: ${profileNames(dir).join(', ')}`);
  }
  return parseProfile(readFileSync(file, 'utf8'), file, basename(file, '.conf'));
}
