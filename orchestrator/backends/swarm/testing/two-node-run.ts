/**
 * The README's two-node figures, reproducible on one machine: makes the two-node swarm of two-node-swarm.ts, labels
 * the manager for the server, runs `make lab-up BACKEND=swarm`, `plan --backend swarm` and one `make flood` per N with
 * the real CLI, prints each report's connection and per-node memory tables, then `make lab-down` and removes the
 * swarm. Takes the docker and heavy locks itself.
 *
 *   node_modules/.bin/node orchestrator/backends/swarm/testing/two-node-run.ts --n 20000,40000 [--hold 30s] [--rate 2000]
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs, promisify } from 'node:util';
import { startTwoNodeSwarm, testProject } from './two-node-swarm.ts';

const run = promisify(execFile);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, hold: { type: 'string', default: '30s' }, rate: { type: 'string', default: '2000' } } });
  const ns = values.n.split(',').map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--n takes whole numbers separated by commas, got ${values.n}`);
  const t0 = Date.now();
  const say = (text: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${text}`);
  const swarm = await startTwoNodeSwarm();
  const env = {
    ...process.env,
    COMET_LAB_PROJECT: testProject(),
    COMET_LAB_IMAGE_TAG: testProject(),
    COMET_LAB_NODE_ENGINES: `${swarm.nodeName}=${swarm.nodeEngine}`,
    // The second node shares this machine's kernel: its host-wide sysctls are this host's, so nothing is written.
    COMET_LAB_TUNE: 'dry-run',
    LAB_SWARM_LOADGENS_ON: 'all',
    COMET_LAB_STATE_DIR: `/tmp/${testProject()}-state`,
    COMET_LAB_PULL_TIMEOUT: '3',
  };
  try {
    execFileSync('docker', ['node', 'update', '--label-add', 'comet-lab.role=server', swarm.managerName], { stdio: 'ignore' });
    say(`swarm: ${swarm.managerName} (manager, ${'10.237.0.1'}) + ${swarm.nodeName} (worker in its own network namespace, 10.237.0.2)`);
    const up = await run('make', ['lab-up', 'BACKEND=swarm', `N=${Math.max(...ns)}`], { env, timeout: 900_000, maxBuffer: 1 << 26 });
    say(up.stdout.split('\n').filter((l) => !/^comet-lab:\s+tuner: /.test(l)).join('\n'));
    const plan = await run('node_modules/.bin/node', ['orchestrator/cli.ts', 'plan', '--backend', 'swarm', '--n', String(Math.max(...ns))], { env });
    say(plan.stdout + plan.stderr);
    for (const n of ns) {
      const f = await run('make', ['flood', `N=${n}`, `ARGS=--backend swarm --rate ${values.rate} --hold ${values.hold} --no-live --no-metrics`], { env, timeout: 1_800_000, maxBuffer: 1 << 26 });
      const dir = /report: (\S+)\/report\.md/.exec(f.stdout)?.[1];
      say(f.stdout.split('\n').slice(-3).join('\n'));
      if (dir) say(readFileSync(`${dir}/report.md`, 'utf8').split('## Errors')[0]!);
    }
  } finally {
    const down = await run('make', ['lab-down', 'BACKEND=swarm'], { env, timeout: 300_000 }).catch((e: { stdout?: string }) => e);
    say(String(down.stdout ?? ''));
    await swarm.stop();
    rmSync(env.COMET_LAB_STATE_DIR, { recursive: true, force: true });
    say('swarm removed');
  }
}

if (import.meta.main) {
  if (!process.env.COMET_LAB_LOCKED) {
    // Re-run under both locks: the main engine goes into swarm mode for the while, and the floods measure memory.
    execFileSync('flock', ['/tmp/comet-lab-docker.lock', 'flock', '/tmp/comet-lab-heavy.lock', process.execPath, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, COMET_LAB_LOCKED: '1' },
    });
  } else {
    await main();
  }
}
