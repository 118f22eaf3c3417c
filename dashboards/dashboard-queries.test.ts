// Grafana cannot be installed here, so the dashboard is checked through what Grafana would ask: a real Prometheus
// runs prometheus.local.yml (as committed) and scrapes a small real flood (server, load generator, the
// orchestrator's exporter) through the targets file the flood writes; then EVERY panel query of comet-lab.json is
// run over the flood's time range and must return at least one series with a number in it. A query that matches no
// metric (a renamed metric, a wrong label) fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { resolveFloodConfig } from '../orchestrator/config/flood-config.ts';
import { flood } from '../orchestrator/flood.ts';
import type { FloodRun } from '../orchestrator/run/flood-run.ts';
import type { RunSample } from '../orchestrator/run/sample.ts';
import { runInfoOf, startRunObservers } from '../orchestrator/live/run-observers.ts';
import { expandGrafanaVariables, loadDashboard, panelQueries } from './dashboard-json.ts';
import { startPrometheus, type PrometheusProcess } from './prometheus-process.ts';
import { waitFor } from '../shared/testing/wait-for.ts';

/** Opens a stream on the server and drops it, so the server counts a close (by reason) during the flood. */
async function openAndDrop(serverUrl: string, id: string): Promise<void> {
  const u = new URL(serverUrl);
  const sock = net.connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.write(`GET /test/${id} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
  await new Promise<void>((resolve) => sock.once('data', () => resolve()));
  sock.destroy();
}

/** Waits until Prometheus scrapes every job of the run (server, loadgen, lab) successfully. */
async function allTargetsUp(prom: PrometheusProcess, timeoutMs: number): Promise<string> {
  let seen = '';
  return waitFor('every job scraped', async () => {
    const targets = await prom.targets();
    seen = targets.map((t) => `${t.labels.job}=${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).sort().join(', ');
    const up = new Set(targets.filter((t) => t.health === 'up').map((t) => t.labels.job));
    return up.has('server') && up.has('loadgen') && up.has('lab') && seen;
  }, timeoutMs, { everyMs: 250, describe: () => seen });
}

test('every panel query of the Grafana dashboard returns data from a real Prometheus scraping a real flood', async (t) => {
  // The committed config in a tree of its own, so its relative file_sd path finds this test's targets folder.
  const root = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-dash-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const config = path.join(root, 'dashboards/prometheus/prometheus.local.yml');
  await mkdir(path.dirname(config), { recursive: true });
  await copyFile(new URL('./prometheus/prometheus.local.yml', import.meta.url), config);
  const targetsDir = path.join(root, '.lab/prometheus');

  const prom = await startPrometheus(config);
  t.after(() => prom.stop());
  const startSec = Date.now() / 1000;

  let scraped: Promise<string> | undefined;
  let dropped: Promise<void> | undefined;
  let holdSamples = 0;
  const result = await flood(
    resolveFloodConfig({
      n: '300', rate: '300', holdSeconds: '8s', intervalSeconds: '1s', workers: '2', loadgenProcs: '1',
      sendsRate: '50', sendsSeconds: '4s', broadcast: true, report: false, stallSeconds: '15s',
      // The test attaches its own exporter below (targets file in its own folder) instead of the built-in one.
      livePort: false, metricsPort: false,
    }),
    { stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} },
    {
      listeners: [(run, ctx) => startRunObservers(run, { backend: 'local', metricsPort: 0, targetsDir, runInfo: runInfoOf(ctx.plan) })],
      onRun(run: FloodRun) {
        run.on('up', () => (scraped = allTargetsUp(prom, 15_000)));
        run.on('sample', (s: RunSample) => {
          if (s.phase === 'hold' && ++holdSamples === 2) {
            const server = run.backend.components().find((c) => c.role === 'server')!;
            dropped = Promise.all([1, 2, 3].map((i) => openAndDrop(server.url, `dashboard-drop-${i}`))).then(() => undefined);
          }
        });
      },
    },
  );
  assert.equal(result.exitCode, 0, 'the flood completed');
  await dropped;
  t.diagnostic(`targets during the flood: ${await scraped}`);
  assert.deepEqual(await readdir(targetsDir), [], 'the flood removed its targets file');

  // Every panel query, over the flood's time range, as Grafana's range queries do.
  const seconds = Math.ceil(Date.now() / 1000 - startSec) + 2;
  const empty: string[] = [];
  const queries = panelQueries(loadDashboard());
  for (const q of queries) {
    const expr = expandGrafanaVariables(q.expr);
    const series = await prom.queryRange(expr, seconds, 1);
    const withData = series.filter((s) => (s.values ?? []).some(([, v]) => Number.isFinite(Number(v))));
    if (withData.length === 0) empty.push(`${q.panel} [${q.refId} ${q.legend}]: ${expr} -> ${series.length} series, none with a number`);
  }
  assert.deepEqual(empty, [], `queries without data:\n${empty.join('\n')}`);
  t.diagnostic(`${queries.length} panel queries, each returned data`);

  // The figures agree with the flood itself: the server held the 300 connections at the hold.
  const held = await prom.queryRange('sum(comet_open_connections)', seconds, 1);
  const peak = Math.max(...held[0]!.values!.map(([, v]) => Number(v)));
  assert.ok(peak >= 300 && peak <= 303, `comet_open_connections peaked at N (plus the 3 dropped streams at most): ${peak}`);
  const labHeld = await prom.queryRange('lab_connections{side="client"}', seconds, 1);
  assert.equal(Math.max(...labHeld[0]!.values!.map(([, v]) => Number(v))), 300, 'lab_connections{side="client"} reached N');
});
