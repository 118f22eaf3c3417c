/**
 * Entrypoint of the compose service `tuner`: applies the host-wide sysctls of kernel/profiles/<profile>.conf, the ones
 * a container cannot set for itself (fs.*, vm.*, net.netfilter.nf_conntrack_max, net.ipv4.tcp_mem, ...), and exits.
 * The per-namespace net.* keys of the profile are skipped here: docker-compose.yml sets them in the server's own
 * namespace (`sysctls:`), and writing them from the host's namespace would retune the host's loopback instead.
 * Runs in the host's network namespace (network_mode: host) with /proc/sys writable (systempaths=unconfined).
 *   COMET_LAB_PROFILE  profile name (default c1m)    COMET_LAB_TUNE  apply (default) | dry-run | skip
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSysctl, writeSysctl } from '../kernel/sysctl.ts';

/** net.* keys that only exist once, in the initial network namespace (absent or read-only in a container's). */
const HOST_WIDE_NET = new Set([
  'net.core.rmem_max',
  'net.core.wmem_max',
  'net.core.rmem_default',
  'net.core.wmem_default',
  'net.core.netdev_max_backlog',
  'net.ipv4.tcp_mem',
  'net.ipv4.udp_mem',
  'net.ipv4.tcp_max_orphans',
  'net.netfilter.nf_conntrack_max',
  'net.nf_conntrack_max',
  'net.netfilter.nf_conntrack_buckets',
]);

/** True for keys one host has once: everything outside net.*, and the net.* keys listed above. */
export function isHostWide(key: string): boolean {
  return !key.startsWith('net.') || HOST_WIDE_NET.has(key);
}

/** sysctl.d syntax: `key = value` lines; `#` and `;` start comments; a leading `-` means "ignore failures". */
export function parseProfile(text: string): Array<{ key: string; value: string; optional: boolean }> {
  const out: Array<{ key: string; value: string; optional: boolean }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const eq = line.indexOf('=');
    if (!line || eq < 0) continue;
    let key = line.slice(0, eq).trim();
    const optional = key.startsWith('-');
    if (optional) key = key.slice(1);
    out.push({ key: key.replaceAll('/', '.'), value: line.slice(eq + 1).trim().split(/\s+/).join(' '), optional });
  }
  return out;
}

function main(): number {
  const profile = process.env.COMET_LAB_PROFILE || 'c1m';
  const mode = process.env.COMET_LAB_TUNE || 'apply';
  if (!['apply', 'dry-run', 'skip'].includes(mode)) {
    console.error(`tuner: COMET_LAB_TUNE must be apply, dry-run or skip, got '${mode}'`);
    return 2;
  }
  if (mode === 'skip') {
    console.log('tuner: COMET_LAB_TUNE=skip: host sysctls left as they are');
    return 0;
  }
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'kernel', 'profiles', `${profile}.conf`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    console.error(`tuner: cannot read profile ${profile} (${file}): ${(err as Error).message}`);
    return 2;
  }
  let failures = 0;
  for (const { key, value, optional } of parseProfile(text)) {
    if (!isHostWide(key)) {
      console.log(`tuner: skip ${key} (per network namespace: set in the container's own sysctls)`);
      continue;
    }
    const before = readSysctl(key);
    if (mode === 'dry-run') {
      console.log(`tuner: would set ${key} = ${value} (now ${before ?? 'absent'})`);
      continue;
    }
    const res = writeSysctl(key, value);
    if (res.ok) console.log(`tuner: ${key} = ${res.value} (was ${before ?? 'absent'})`);
    else {
      if (!optional) failures++;
      console.log(`tuner: ${optional ? 'could not set (optional)' : 'FAILED'} ${key} = ${value}: ${res.reason}: ${res.detail}`);
    }
  }
  console.log(`tuner: profile ${profile} ${mode === 'dry-run' ? 'checked' : 'applied'}, ${failures} failure(s)`);
  return failures ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
