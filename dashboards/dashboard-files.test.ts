// The provisioning files and the dashboard JSON, read the way Grafana and Compose read them, checked against each
// other: the data source the dashboard names exists, the provider loads the folder Compose mounts, every metric a
// panel asks for is one the lab exports. That the queries return data is dashboard-queries.test.ts's job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { METRICS } from '../shared/contracts.ts';
import { COMPONENT_UP_METRIC } from '../orchestrator/exporter/lab-exporter.ts';
import { expandGrafanaVariables, loadDashboard, metricNames, panelQueries } from './dashboard-json.ts';
import { buildDashboard } from './grafana/dashboard-source.ts';

const here = (p: string) => new URL(p, import.meta.url);
const yamlFile = (p: string) => parse(readFileSync(here(p), 'utf8'));

// Names the dashboard may use beyond shared/contracts.ts: prom-client's default process metrics, Prometheus's own
// `up`, and the server's per-process file counts (its default process_open_fds is a sum over workers, which says
// nothing about the per-process limit).
const DEFAULT_METRICS = ['process_open_fds', 'process_max_fds', 'nodejs_eventloop_lag_p99_seconds', 'up', 'comet_process_open_fds', 'comet_process_max_fds'];
const KNOWN = new Set<string>([
  ...Object.values(METRICS).flatMap((group) => Object.values(group)),
  COMPONENT_UP_METRIC,
  ...DEFAULT_METRICS,
]);

test('the data source is provisioned as the Prometheus of the compose stack, with the uid the dashboard uses', () => {
  const dir = 'grafana/provisioning/datasources/';
  const files = readdirSync(here(dir)).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 1);
  const sources = files.flatMap((f) => yamlFile(dir + f).datasources as any[]);
  const prom = sources.filter((d) => d.type === 'prometheus');
  assert.equal(prom.length, 1, 'one Prometheus data source');
  const ds = prom[0];
  assert.equal(ds.access, 'proxy');
  assert.equal(ds.isDefault, true);
  const url = new URL(ds.url);
  const compose = yamlFile('../docker-compose.yml');
  assert.ok(compose.services[url.hostname], `the data source points at compose service '${url.hostname}'`);
  const promPorts: string[] = compose.services[url.hostname].command.filter((a: string) => a.startsWith('--web.listen-address='));
  assert.ok(promPorts.some((a) => a.endsWith(`:${url.port}`)), `prometheus listens on ${url.port}: ${promPorts}`);

  const dashboard = loadDashboard();
  for (const p of dashboard.panels) {
    assert.equal(p.datasource.uid, ds.uid, `panel ${p.title}`);
    for (const t of p.targets) assert.equal(t.datasource.uid, ds.uid, `panel ${p.title} ${t.refId}`);
  }
});

test('the dashboard provider loads the folder where compose mounts dashboards/grafana/dashboards', () => {
  const dir = 'grafana/provisioning/dashboards/';
  const providers = readdirSync(here(dir)).filter((f) => /\.ya?ml$/.test(f)).flatMap((f) => yamlFile(dir + f).providers as any[]);
  assert.equal(providers.length, 1);
  const provider = providers[0];
  assert.equal(provider.type, 'file');
  const compose = yamlFile('../docker-compose.yml');
  const mounts: string[] = compose.services.grafana.volumes;
  const mount = mounts.find((v) => v.split(':')[0]!.replace(/^\.\//, '') === 'dashboards/grafana/dashboards');
  assert.ok(mount, `compose mounts dashboards/grafana/dashboards: ${mounts}`);
  assert.equal(mount!.split(':')[1], provider.options.path);
  const prov = mounts.find((v) => v.split(':')[0]!.replace(/^\.\//, '') === 'dashboards/grafana/provisioning');
  assert.equal(prov?.split(':')[1], '/etc/grafana/provisioning');
  assert.equal(compose.services.grafana.environment.GF_AUTH_ANONYMOUS_ENABLED, 'true', 'anonymous read access');
});

test('the dashboard has every panel the issue asks for, each with queries on metrics the lab exports', () => {
  const dashboard = loadDashboard();
  assert.equal(dashboard.uid, 'comet-lab');
  const titles = dashboard.panels.map((p: any) => p.title as string);
  for (const want of ['Connections', 'Connect rate', 'Memory per component', 'Memory per connection', 'Chunks per second', 'Messages per second',
    'Delivery latency p50 / p99', 'Errors by cause', 'Open files against the limit', 'Event-loop lag', 'Phase']) {
    assert.ok(titles.includes(want), `panel '${want}' in ${titles}`);
  }
  const ids = dashboard.panels.map((p: any) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const queries = panelQueries(dashboard);
  assert.ok(queries.length >= 20);
  for (const q of queries) {
    const names = metricNames(expandGrafanaVariables(q.expr));
    assert.ok(names.length > 0 || q.expr.startsWith('up'), `${q.panel}: ${q.expr}`);
    for (const n of names) {
      const base = n.replace(/_(bucket|count|sum)$/, '');
      assert.ok(KNOWN.has(n) || KNOWN.has(base), `${q.panel} ${q.refId}: unknown metric ${n}`);
    }
  }
  // Memory per connection is derived in PromQL too (a division), not only read from the exporter.
  assert.ok(queries.some((q) => q.panel === 'Memory per connection' && q.expr.includes('/')));
});

test('both Prometheus configurations pass promtool, and the Docker one scrapes the compose server and the load generators the orchestrator lists', () => {
  for (const f of ['prometheus/prometheus.yml', 'prometheus/prometheus.local.yml']) {
    execFileSync('promtool', ['check', 'config', '--syntax-only', here(f).pathname], { stdio: 'pipe' });
  }
  const cfg = yamlFile('prometheus/prometheus.yml');
  const jobs = Object.fromEntries(cfg.scrape_configs.map((j: any) => [j.job_name, j]));
  assert.deepEqual(Object.keys(jobs).sort(), ['lab', 'loadgen', 'server']);
  const compose = yamlFile('../docker-compose.yml');
  const serverTarget: string = jobs.server.static_configs[0].targets[0];
  assert.ok(compose.services[serverTarget.split(':')[0]!], `compose service for ${serverTarget}`);
  assert.ok(compose.services.server.command.includes(`--port=${serverTarget.split(':')[1]}`));
  assert.equal(jobs.loadgen.docker_sd_configs, undefined, 'no Docker service discovery: it needs the socket');
  assert.deepEqual(jobs.loadgen.file_sd_configs[0].files, ['/prometheus-targets/*.json']);
  assert.ok(!compose.services.prometheus.volumes.some((v: string) => v.includes('docker.sock')), 'prometheus is not given the Docker socket');
  assert.ok(compose.services.prometheus.volumes.some((v: string) => v.endsWith(':/prometheus-targets:ro')), 'prometheus reads the load generators from the targets folder');
  assert.equal(compose.services.prometheus.user, undefined, 'prometheus runs as its image\'s user, not root');
  assert.ok(compose.services.prometheus.extra_hosts.some((h: string) => h.startsWith('host.docker.internal:')), 'prometheus reaches the host exporter');
  const local = yamlFile('prometheus/prometheus.local.yml');
  assert.deepEqual(local.scrape_configs[0].file_sd_configs[0].files, ['../../.lab/prometheus/*.json']);
});

test('the committed dashboard JSON is what dashboard-source.ts builds (regenerate it after editing the source)', () => {
  assert.deepEqual(loadDashboard(), buildDashboard());
});
