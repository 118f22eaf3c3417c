// The live page and report.html of a real Docker-backend flood, in Debian's Chromium: `lab-up`, a 1,000-connection
// flood with sends and a broadcast (the orchestrator carries the lab's admin token) whose live page is followed while
// it runs, then its report.html. Under this
// backend each sample is stamped when its slower readings (the Engine API's stats) begin; the page once drew phase
// changes as copies of the last sample stamped later than the next real one, so its lines ran backwards in time and
// every phase was marked twice. Checked here: time only moves forward, each phase is marked once, every chart has
// data from 0, and the headline card carries summary.json's figures. Screenshots go to test-artifacts/.
// Run it under `flock /tmp/comet-lab-docker.lock` (the lab's subnet and ports are fixed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { DockerBackend } from '../backends/docker/docker-backend.ts';
import { dockerTestEnv } from '../backends/docker/docker-test-env.ts';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { flood } from '../flood.ts';
import { assertCharts, assertHeadlineCard, assertPhases, chartFacts, openBrowser } from './page-checks.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const ARTIFACTS = join(REPO, 'test-artifacts');
const PROJECT = `clpages${process.pid}`;
const ENV = dockerTestEnv(PROJECT, { COMET_WORKERS: '1', COMET_INTERVAL: '1s' });
const TIME_CHARTS = ['connections', 'memory', 'perConnection', 'chunks', 'messages', 'latency', 'errors', 'cpu'];
let stderr = '';
const out = mkdtempSync(join(tmpdir(), 'comet-lab-pages-docker-'));

const sh = async (script: string) => {
  const r = await run('bash', [script], { env: ENV, timeout: 300_000, maxBuffer: 1 << 24 });
  return r.stdout + r.stderr;
};

before(async () => {
  await run('bash', ['scripts/start-dockerd.sh'], { timeout: 120_000 });
  assert.match(await sh('scripts/lab-up.sh'), /is up on/);
});

after(async () => {
  await sh('scripts/lab-down.sh').catch(() => undefined);
  rmSync(out, { recursive: true, force: true });
});

test('a Docker flood: its live page runs forwards in time with each phase once, and its report.html shows the same run', async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const err = new PassThrough();
  err.on('data', (d: Buffer) => (stderr += d));
  const config = resolveFloodConfig({
    n: '1000', rate: '500', holdSeconds: '5s', intervalSeconds: '1s', backend: 'docker', out, stallSeconds: '20s', livePort: '0', busyWaitSeconds: '120s',
    sendsRate: '100', sendsSeconds: '3s', broadcast: true,
  });
  const flooding = flood(config, { stdout: new PassThrough().resume(), stderr: err, env: {} }, {
    backend: (_plan, runId) => new DockerBackend({ runId, project: PROJECT }),
  });
  const { context, page, external, pageErrors } = await openBrowser(join(out, 'chromium'));
  t.after(() => context.close());
  const liveUrl = await waitFor('the live page address', async () => /live page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1], 240_000, { describe: () => `the flood said:\n${stderr.slice(-3000)}` });
  await page.goto(liveUrl);
  await waitFor('the hold on the live page', async () => (await page.textContent('#phase')) === 'hold', 90_000, { describe: () => `the flood said:\n${stderr.slice(-3000)}` });
  await waitFor('the end of the run on the live page', async () => (await page.textContent('#phase')) === 'finished', 90_000, { describe: () => `the flood said:\n${stderr.slice(-3000)}` });
  assertCharts(await chartFacts(page), TIME_CHARTS);
  const phases = await assertPhases(page);
  const points: Array<{ t: number; phase: string }> = await page.evaluate(() => (globalThis as any).cometLab.points.map((p: any) => ({ t: p.t, phase: p.phase })));
  // Each point's phase is the one in force at its time: the phase marks and the points agree.
  for (const p of points) {
    const inForce = phases.filter((ph) => ph.t <= p.t).at(-1)?.name;
    assert.equal(p.phase, inForce, `point at ${p.t} s says ${p.phase}, the phases say ${inForce} (${JSON.stringify(phases)})`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'live-page-docker.png'), fullPage: true });

  const result = await flooding;
  assert.equal(result.exitCode, 0, `${result.document?.run.verdictText}\n${stderr}`);
  const summary = JSON.parse(readFileSync(join(result.reportDir!, 'summary.json'), 'utf8'));
  assert.equal(summary.server.method, 'docker-stats');
  assert.equal(summary.connections.reachedClient, 1000);
  await page.goto(`file://${join(result.reportDir!, 'report.html')}`);
  assert.ok((await assertHeadlineCard(page, summary)) >= 8, 'sends and fan-out on the card too');
  assert.ok(summary.sends.sustainedRate > 0 && summary.broadcast.complete, 'sends and broadcast reached the Docker lab\'s server');
  assertCharts(await chartFacts(page), [...TIME_CHARTS, 'xy0', 'xy1']);
  await assertPhases(page);
  assert.equal(await page.textContent('#phase'), 'finished');
  await page.screenshot({ path: join(ARTIFACTS, 'report-html-docker.png'), fullPage: true });
  assert.deepEqual(external, []);
  assert.deepEqual(pageErrors, []);
});
