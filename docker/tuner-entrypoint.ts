/**
 * Entrypoint of the compose service `tuner`: applies the host-wide sysctls of kernel/profiles/<profile>.conf, the ones
 * a container cannot set for itself (fs.*, vm.*, net.netfilter.nf_conntrack_max, net.ipv4.tcp_mem, ...), and exits.
 * The per-namespace net.* keys of the profile are skipped here: docker-compose.yml sets them in the server's own
 * namespace (`sysctls:`), and writing them from the host's namespace would retune the host's loopback instead.
 * Which keys are host-wide comes from the profile itself (kernel/profile.ts: every setting is marked `host` or `netns`).
 * Runs in the host's network namespace (network_mode: host) and writes through the host's /proc/sys, bound at
 * COMET_LAB_SYSCTL_ROOT (a container's own /proc/sys is read-only).
 *   COMET_LAB_PROFILE  profile name (default c1m)    COMET_LAB_TUNE  apply (default) | dry-run | skip
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadProfile } from '../kernel/profile.ts';
import { normaliseValue } from '../kernel/sysctl.ts';

const ROOT = process.env.COMET_LAB_SYSCTL_ROOT || '/proc/sys';
const path = (key: string) => `${ROOT}/${key.replaceAll('.', '/')}`;

function readSysctl(key: string): string | undefined {
  try {
    return normaliseValue(readFileSync(path(key), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Writes, then reads back what the kernel kept (it may clamp). */
function writeSysctl(key: string, value: string): { ok: true; value: string } | { ok: false; detail: string } {
  try {
    writeFileSync(path(key), `${value}\n`);
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
  return { ok: true, value: readSysctl(key) ?? '?' };
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
  let settings;
  try {
    settings = loadProfile(profile).settings;
  } catch (err) {
    console.error(`tuner: profile ${profile}: ${(err as Error).message}`);
    return 2;
  }
  let failures = 0;
  for (const { key, value, scope } of settings) {
    if (scope !== 'host') {
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
      failures++;
      console.log(`tuner: FAILED ${key} = ${value}: ${res.detail}`);
    }
  }
  console.log(`tuner: profile ${profile} ${mode === 'dry-run' ? 'checked' : 'applied'}, ${failures} failure(s)`);
  return failures ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
