/**
 * Reading and writing sysctls through /proc/sys, the same files `sysctl` uses. Writes act on the network namespace
 * of the calling process for per-namespace keys, which is what the netns tests rely on.
 */
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';

/**
 * Where /proc/sys is: the Docker lab's tuner runs in a container whose own /proc/sys is read-only and reaches the
 * host's through a bind mount (COMET_LAB_SYSCTL_ROOT=/host/proc/sys); everything else uses /proc/sys.
 */
const ROOT = process.env.COMET_LAB_SYSCTL_ROOT || '/proc/sys';

/** `net.ipv4.tcp_mem` -> `/proc/sys/net/ipv4/tcp_mem`. */
export function sysctlPath(key: string): string {
  return `${ROOT}/${key.replaceAll('.', '/')}`;
}

/** Whitespace-normalised value (`"4096\t131072"` -> `"4096 131072"`), so values compare as sysctl prints them. */
export function normaliseValue(value: string): string {
  return value.trim().split(/\s+/).filter(Boolean).join(' ');
}

/** The key's current value, or undefined when this kernel (or this namespace) does not have it. */
export function readSysctl(key: string): string | undefined {
  try {
    return normaliseValue(readFileSync(sysctlPath(key), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Identity of this process's network namespace, e.g. "net:[4026531840]". */
export function currentNetns(): string {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return 'unknown';
  }
}

export type WriteFailure = 'absent' | 'read-only' | 'not-permitted' | 'rejected' | 'other';

export type WriteOutcome = { ok: true; value: string } | { ok: false; reason: WriteFailure; detail: string };

/** Writes a value and reads it back (the kernel may clamp it); never throws. */
export function writeSysctl(key: string, value: string): WriteOutcome {
  try {
    writeFileSync(sysctlPath(key), `${value}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const detail = (err as Error).message; // already starts with the errno code
    if (code === 'ENOENT') return { ok: false, reason: 'absent', detail: 'not present in this kernel or namespace' };
    if (code === 'EROFS' || code === 'EACCES') return { ok: false, reason: 'read-only', detail };
    if (code === 'EPERM') return { ok: false, reason: 'not-permitted', detail };
    if (code === 'EINVAL' || code === 'ERANGE') return { ok: false, reason: 'rejected', detail };
    return { ok: false, reason: 'other', detail };
  }
  const now = readSysctl(key);
  if (now === undefined) return { ok: false, reason: 'other', detail: 'written but cannot be read back' };
  return { ok: true, value: now };
}
