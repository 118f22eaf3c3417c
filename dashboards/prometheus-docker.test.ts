// dashboards/prometheus/prometheus.yml for real, inside Docker as docker-compose.yml runs it (mounted at
// /etc/prometheus, the targets folder at /prometheus-targets, NO Docker socket, not root, host.docker.internal
// mapped to the host gateway): its three jobs must find and scrape their targets. Stand-ins answer /metrics where the
// lab's components would: a container named by the alias `server` on :8000, a load generator on :9100 written to the
// targets folder by the orchestrator's own run observers (as a Docker flood writes it), and the orchestrator's
// exporter started as a Docker run starts it (docker0 address, port 9465). The stand-ins run the offline Prometheus
// image (it serves /metrics on whatever port it listens on). The engine is started by scripts/start-dockerd.sh when none
// runs; skipped, saying why, only where there is no docker CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { FloodRunEvents } from '../orchestrator/run/flood-run.ts';
import { testSample } from '../orchestrator/run/test-sample.ts';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRunObservers } from '../orchestrator/live/run-observers.ts';
import { freePort } from './prometheus-process.ts';

const run = promisify(execFile);
const docker = (...args: string[]) => run('docker', args, { timeout: 60_000 }).then((r) => r.stdout.trim());
const REPO = fileURLToPath(new URL('..', import.meta.url));
const IMAGE = 'comet-lab/prometheus-local:latest';

async function engineProblem(): Promise<string | undefined> {
  try {
    await run('docker', ['--version'], { timeout: 5000 });
  } catch {
    return 'no docker CLI here (scripts/install-system-deps.sh installs docker.io)';
  }
  // As the other Docker tests do: a fresh machine has no engine running until one is started (on a fresh CI
  // machine this file runs before any of them, and skipped itself there).
  await run('bash', ['scripts/start-dockerd.sh'], { cwd: REPO, timeout: 120_000 });
  try {
    await docker('image', 'inspect', IMAGE);
  } catch {
    // The offline image the lab builds from Debian's prometheus; cached, so this is quick after the first time.
    await run('bash', ['docker/build-prometheus-local.sh'], { cwd: REPO, timeout: 120_000 });
  }
  return undefined;
}

const problem = await engineProblem();

test('the Docker Prometheus configuration scrapes the server by name, the load generators the orchestrator lists, and the orchestrator, without the Docker socket', { skip: problem }, async (t) => {
  const id = `comet-lab-dashtest-${randomBytes(3).toString('hex')}`;
  const made: string[] = [];
  t.after(async () => {
    for (const c of made) await docker('rm', '-f', c).catch(() => undefined);
    await docker('network', 'rm', id).catch(() => undefined);
  });
  await docker('network', 'create', '--label', 'comet-lab.test=dashboards', id);
  const stub = async (name: string, port: number, extra: string[]) => {
    made.push(name);
    await docker('run', '-d', '--name', name, '--network', id, ...extra, IMAGE,
      '--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', `--web.listen-address=:${port}`);
  };
  await stub(`${id}-server`, 8000, ['--network-alias', 'server']);
  await stub(`${id}-loadgen`, 9100, []);
  const loadgenIp = await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${id}").IPAddress}}`, `${id}-loadgen`);

  // The orchestrator's exporter and targets file, as a Docker-backend flood starts them.
  const targetsDir = mkdtempSync(join(tmpdir(), 'comet-lab-targets-'));
  chmodSync(targetsDir, 0o755); // Prometheus runs as nobody
  t.after(() => rmSync(targetsDir, { recursive: true, force: true }));
  const events = new EventEmitter<FloodRunEvents>();
  const observers = await startRunObservers(events, { backend: 'docker', metricsPort: 0, targetsDir });
  t.after(() => observers.close());
  events.emit('up', { components: [{ name: 'server', role: 'server', url: 'http://server:8000' }, { name: 'loadgen-1', role: 'loadgen', url: `http://${loadgenIp}:9100` }] });
  // Another Docker flood running right now would hold the port; this one then exports elsewhere (by design).
  const ownExporter = observers.exporter!.port === 9465;
  if (!ownExporter) t.diagnostic(`port 9465 is taken by another flood: the lab job scrapes that one`);
  events.emit('sample', testSample({ startMs: Date.now(), phase: 'hold', target: 10, conns: 10 }));

  const promPort = await freePort();
  made.push(`${id}-prometheus`);
  await docker('run', '-d', '--name', `${id}-prometheus`, '--network', id,
    '--add-host', 'host.docker.internal:host-gateway',
    '-v', `${REPO}dashboards/prometheus:/etc/prometheus:ro`, '-v', `${targetsDir}:/prometheus-targets:ro`,
    '-p', `127.0.0.1:${promPort}:9090`, IMAGE,
    '--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--web.listen-address=:9090');

  const want = { server: 'server', loadgen: 'loadgen-1', lab: '' };
  const deadline = Date.now() + 45_000;
  let seen: Record<string, { health: string; component: string; error: string }> = {};
  for (;;) {
    try {
      const res: any = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets?state=active`)).json();
      seen = {};
      for (const tg of res.data.activeTargets) {
        const component = tg.labels.component ?? '';
        seen[tg.labels.job] = { health: tg.health, component, error: tg.lastError };
      }
      if (Object.keys(want).every((job) => seen[job]?.health === 'up')) break;
    } catch {
      // Prometheus is still starting.
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const [job, component] of Object.entries(want)) {
    assert.equal(seen[job]?.health, "up", `job ${job}: ${JSON.stringify(seen)}`);
    if (component) assert.equal(seen[job]!.component, component);
  }
  if (ownExporter) {
    const q: any = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=lab_target_connections`)).json();
    assert.equal(q.data.result[0]?.value[1], '10', 'the exporter\'s figures arrive');
  }
});
