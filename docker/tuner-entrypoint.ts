/**
 * Entrypoint of the one-shot `tuner` container: applies the host-wide sysctls of kernel/profiles/<profile>.conf, the
 * ones a container cannot set for itself (fs.*, vm.*, net.netfilter.nf_conntrack_max, net.ipv4.tcp_mem, ...), saving
 * the values it replaced, or puts those values back (`restore`, which `make lab-down` runs). It is kernel/tune.ts's
 * tune()/untune() (the same state-file semantics as `make tune`/`make untune`: the first originals are kept when
 * lab-up runs twice, the file is rewritten after every write and removed once everything is restored).
 * The per-namespace net.* keys of the profile are skipped: docker-compose.yml sets them in the server's own
 * namespace (`sysctls:`), and writing them from the host's namespace would retune the host's loopback instead.
 * Runs in the host's network namespace (network_mode: host) and writes through the host's /proc/sys, bound at
 * COMET_LAB_SYSCTL_ROOT (a container's own /proc/sys is read-only); the state file lives on the host (a bind mount
 * at COMET_LAB_TUNER_STATE's folder), so a node keeps its own record even when the lab spans several hosts.
 *   COMET_LAB_PROFILE  profile name (default c1m)
 *   COMET_LAB_TUNE     apply (default) | restore | dry-run | skip
 *   COMET_LAB_TUNER_STATE  state file (default /lab-state/sysctl-saved.json)
 */
import { loadProfile } from '../kernel/profile.ts';
import { readSysctl } from '../kernel/sysctl.ts';
import { selectSettings, tune, untune, type SettingResult } from '../kernel/tune.ts';

const MODES = ['apply', 'restore', 'dry-run', 'skip'];

function line(r: SettingResult): string {
  if (r.status === 'failed') return `tuner: FAILED ${r.key} = ${r.to}: ${r.reason}: ${r.detail ?? ''}`;
  if (r.status === 'unchanged') return `tuner: ${r.key} = ${r.to} (unchanged)`;
  return `tuner: ${r.key} = ${r.to} (was ${r.from ?? 'absent'})`;
}

function main(): number {
  const profile = process.env.COMET_LAB_PROFILE || 'c1m';
  const mode = process.env.COMET_LAB_TUNE || 'apply';
  const statePath = process.env.COMET_LAB_TUNER_STATE || '/lab-state/sysctl-saved.json';
  if (!MODES.includes(mode)) {
    console.error(`tuner: COMET_LAB_TUNE must be one of ${MODES.join(', ')}, got '${mode}'`);
    return 2;
  }
  if (mode === 'skip') {
    console.log('tuner: COMET_LAB_TUNE=skip: host sysctls left as they are');
    return 0;
  }
  if (mode === 'restore') {
    const report = untune({ statePath, onResult: (r) => console.log(line(r).replace('(was', '(restored from')) });
    if (report.nothingSaved) console.log(`tuner: nothing to restore (no ${statePath}: lab-up changed nothing, or it was restored already)`);
    else console.log(`tuner: restored ${report.results.filter((r) => r.status === 'restored').length}, unchanged ${report.results.filter((r) => r.status === 'unchanged').length}, ${report.failed} failure(s)`);
    return report.failed ? 1 : 0;
  }
  let p;
  try {
    p = loadProfile(profile);
  } catch (err) {
    console.error(`tuner: profile ${profile}: ${(err as Error).message}`);
    return 2;
  }
  for (const s of p.settings) if (s.scope !== 'host') console.log(`tuner: skip ${s.key} (per network namespace: set in the container's own sysctls)`);
  if (mode === 'dry-run') {
    for (const s of selectSettings(p, { scope: 'host' })) console.log(`tuner: would set ${s.key} = ${s.value} (now ${readSysctl(s.key) ?? 'absent'})`);
    console.log(`tuner: profile ${profile} checked, 0 failure(s)`);
    return 0;
  }
  const report = tune(p, { statePath, scope: 'host', onResult: (r) => console.log(line(r)) });
  console.log(`tuner: profile ${profile} applied, ${report.failed} failure(s); replaced values saved in ${statePath} (make lab-down restores them)`);
  return report.failed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
