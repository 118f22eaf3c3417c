/**
 * `mochiweb`: the seed's own test app (mochiweb/mochiconntest.erl, written here) on Debian's erlang-mochiweb 3.1.1
 * and OTP 25: `GET /test/<id>` streams the seed's welcome, then `Chunk <n> for id <id>` every heartbeat interval
 * (the plan's; the seed's was 10 s). No sends, no broadcast (the seed's part 1).
 *
 * One Erlang VM holds at most ~19,800 sockets under this host's 20,000-file limit, so the plan's server workers
 * become that many VMs sharing the port with SO_REUSEPORT, all children of one shell (one process tree for CPU,
 * one process group to stop), which ends, stopping the rest, when any VM ends. The app is compiled per run with erlc into a temporary folder (about 1 s).
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { EXIT, LabError } from '../../shared/errors.ts';
import { readyPrefix } from '../../shared/ready-line.ts';
import { ownTempDir } from '../../shared/temp-dir.ts';
import { connectAllTo } from './loopback-plan.ts';
import { launchedServer, startServerProcess } from './server-process.ts';
import type { LaunchedServer, LocalLaunch, Target } from './target.ts';

const run = promisify(execFile);
const SOURCE = new URL('./mochiweb/mochiconntest.erl', import.meta.url).pathname;

/**
 * `erl` for one VM; for several, bash starts them in the background and ends as soon as one ends, stopping the
 * others: the run then sees the server die and says why (a plain `wait` kept the shell alive while the other VMs
 * ran, so a dead VM and the streams it held were never reported).
 */
export function mochiwebCommand(ebin: string, port: number, intervalMs: number, vms: number): string[] {
  const erl = `erl -noshell -noinput -pa '${ebin}' -run mochiconntest start 127.0.0.1 ${port} ${intervalMs}`;
  // exec for a single VM (no shell left in the tree). The VMs share the shell's process group, which is what stop()
  // signals, so each gets the SIGTERM itself. `wait -n` is bash's (dash, Debian's sh, has none).
  if (vms === 1) return ['/bin/sh', '-c', `exec ${erl}`];
  const script = [
    `${Array(vms).fill(`${erl} &`).join(' ')}`,
    'wait -n; code=$?',
    `echo "one of the ${vms} Erlang VMs ended with status $code (128+n: killed by signal n); stopping the others" >&2`,
    'kill $(jobs -p) 2>/dev/null; wait; exit $code',
  ].join('\n');
  return ['/bin/bash', '-c', script];
}

async function launchMochiweb(l: LocalLaunch): Promise<LaunchedServer> {
  const ebin = ownTempDir('comet-lab-mochiweb-');
  const vms = Math.max(1, l.plan.server.workers);
  try {
    await run('erlc', ['-o', ebin, SOURCE], { timeout: 60_000 });
  } catch (err) {
    rmSync(ebin, { recursive: true, force: true });
    throw new LabError('LAB_ERR_TARGET_START', `compiling ${SOURCE} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
  try {
    const proc = await startServerProcess(l.wrap(mochiwebCommand(ebin, l.port, l.plan.server.heartbeatIntervalMs, vms)), {
      what: `mochiweb (${vms} Erlang VM${vms > 1 ? 's' : ''})`,
      readyLine: readyPrefix('mochiweb'),
      readyCount: vms,
      timeoutMs: 30_000,
      logDir: l.logDir,
    });
    return launchedServer(proc, l.port, async () => {
      await proc.stop('SIGTERM', 10_000); // the VM stops its applications on SIGTERM (init:stop)
      rmSync(ebin, { recursive: true, force: true });
    });
  } catch (err) {
    rmSync(ebin, { recursive: true, force: true });
    throw err;
  }
}

export function mochiwebTarget(): Target {
  return {
    kind: 'mochiweb',
    name: 'mochiweb',
    label: 'mochiweb',
    supports: { transports: ['chunked'], sends: false, broadcast: false, heartbeat: true },
    backends: ['local'],
    description: "the seed's mochiconntest (orchestrator/targets/mochiweb/mochiconntest.erl) on Debian's erlang-mochiweb 3.1.1, OTP 25; one VM per planned server worker sharing the port (SO_REUSEPORT), 127.0.0.1 only",
    loadgenFlags: [],
    streamPath: () => '/test/{i}',
    async preflight() {
      const missing = ['/usr/bin/erl', '/usr/bin/erlc', '/usr/lib/erlang/lib/mochiweb/ebin/mochiweb.app'].filter((p) => !existsSync(p));
      if (missing.length > 0) {
        throw new LabError('LAB_ERR_NO_MOCHIWEB', `Erlang or mochiweb is not installed (missing ${missing.join(', ')})`, {
          exitCode: EXIT.preflight,
          hint: 'run `make system-deps` (erlang-mochiweb, erlang-inets)',
        });
      }
    },
    adaptPlan: (plan) => {
      plan.server.engine = 'mochiweb';
      connectAllTo(plan, '127.0.0.1');
    },
    launchLocal: launchMochiweb,
  };
}
