/**
 * The local backend in the shared suite: child processes on loopback, each in a memory cgroup where one can be made.
 * A component is killed by the pid `ss` shows listening on its API port; leftovers are those pids still alive and
 * the run's cgroup folder. Nothing skipped.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend.ts';
import type { BackendCase } from '../backend-case.ts';
import { REPO_ROOT } from '../../flood.ts';
import { makePlan } from '../../plan/planner.ts';
import { detectCgroup } from './cgroup.ts';
import { LocalBackend } from './local-backend.ts';
import { alive } from '../../../shared/testing/processes.ts';

/** The pid listening on a loopback URL's port, as the kernel reports it. */
function listenerPid(url: string): number {
  const port = new URL(url).port;
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`nothing listens on ${url}: ${out}`);
  return Number(m[1]);
}

export function localCase(): BackendCase {
  // The pid leads the id, so a later run reaps this one's cgroups if the test is killed (cgroup.ts).
  const runId = `${process.pid}-case-${randomBytes(3).toString('hex')}`;
  const pids = new Set<number>();
  const cgroups = detectCgroup();
  return {
    name: 'local',
    skip: false,
    n: 600,
    make: () => new LocalBackend({ runId, lifetimeSeconds: 90, cwd: REPO_ROOT }),
    plan: (n) =>
      makePlan(
        { n, backend: 'local', engine: '', transport: 'chunked', rate: 1000, holdSeconds: 5, intervalSeconds: 1, serverPort: 0, workers: 1, loadgenProcs: 2 },
        { connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 8 * 2 ** 30, cores: 2 },
      ),
    async kill(backend, name) {
      const c = backend.components().find((x) => x.name === name)!;
      process.kill(listenerPid(c.url), 'SIGKILL');
    },
    async leftovers(backend: Backend) {
      // Pids are taken while the components run (the suite calls leftovers() once before stop, to learn them).
      for (const c of backend.components()) {
        try {
          pids.add(listenerPid(c.url));
        } catch {
          // already gone
        }
      }
      const left = [...pids].filter(alive).map((p) => `pid ${p}`);
      const dir = cgroups && join(cgroups.labRoot, runId);
      if (dir && existsSync(dir)) left.push(`cgroup ${dir}`);
      return left;
    },
  };
}
