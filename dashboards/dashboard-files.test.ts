// The provisioning files and the dashboard JSON, read the way Grafana and Compose read them, checked against each
// other: the data source the dashboard names exists, the provider loads the folder Compose mounts, every metric a
// panel asks for is one the lab exports. That the queries return data is dashboard-queries.test.ts's job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { METRICS } from '../shared/contracts.ts';
import { COMPONENT_INFO_METRIC, COMPONENT_UP_METRIC, RUN_INFO_METRIC } from '../orchestrator/exporter/lab-exporter.ts';
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
  COMPONENT_INFO_METRIC,
  RUN_INFO_METRIC,
  ...DEFAULT_METRICS,
]);

test('the data source is provisioned as the Prometheus of the compose stack, the default one the dashboard\'s variable falls on', () => {
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

  // The dashboard names no data source of its own: it reads the variable, which picks the default one.
  assert.ok(!JSON.stringify(loadDashboard()).includes(ds.uid), 'no hard-coded data source uid in the dashboard');
});

test('the dashboard imports into any Grafana: a data source variable every panel reads, a current schema, refresh >= 5 s', () => {
  const d = loadDashboard();
  // Grafana 12 writes schemaVersion 41-42; 39 was Grafana 11.0/11.1.
  assert.ok(d.schemaVersion >= 41, `schemaVersion ${d.schemaVersion}`);
  // Import replaces only `${DS_...}` strings with the data source picked on its screen, and provisioning none: the
  // dashboard has neither, so both leave it as it is and the variable (no current value: the default) picks the source.
  assert.equal(d.__inputs, undefined, 'no __inputs');
  assert.doesNotMatch(JSON.stringify(d), /\$\{DS_/);
  assert.ok(d.__requires.some((r: any) => r.type === 'datasource' && r.id === 'prometheus'));
  const types = new Set(d.panels.map((p: any) => p.type));
  for (const t of types) assert.ok(d.__requires.some((r: any) => r.type === 'panel' && r.id === t), `__requires lists panel type ${t}`);
  const v = d.templating.list.find((x: any) => x.type === 'datasource');
  assert.deepEqual({ name: v.name, query: v.query, current: v.current }, { name: 'datasource', query: 'prometheus', current: undefined });
  assert.equal(d.templating.list.filter((x: any) => x.type === 'datasource').length, 1);
  for (const p of d.panels) {
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel ${p.title}`);
    for (const t of p.targets) assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel ${p.title} ${t.refId}`);
  }
  // Grafana refuses refresh options below its min_refresh_interval, 5 s by default.
  const seconds = (s: string) => Number(/^(\d+)([smh])$/.exec(s)![1]) * { s: 1, m: 60, h: 3600 }[/^\d+([smh])$/.exec(s)![1] as 's' | 'm' | 'h'];
  for (const r of [d.refresh, ...d.timepicker.refresh_intervals]) assert.ok(seconds(r) >= 5, `refresh ${r} >= 5s`);
  assert.equal(d.editable, false);
});

test('the panels tile the grid: inside 24 columns, no two overlapping, unique ids and refIds, a title and a description each', () => {
  const d = loadDashboard();
  const cells = new Set<string>();
  for (const p of d.panels) {
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title}: ${JSON.stringify(g)}`);
    for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
      assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
      cells.add(`${x},${y}`);
    }
    assert.ok(p.title && p.description, `panel ${p.id} has a title and a description`);
    const refs = p.targets.map((t: any) => t.refId);
    assert.equal(new Set(refs).size, refs.length, `${p.title}: unique refIds`);
    if (p.type === 'timeseries') assert.equal(p.fieldConfig.defaults.min, 0, `${p.title}: y axis from 0`);
  }
  const ids = d.panels.map((p: any) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
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
    'Delivery latency p50 / p99', 'Errors by cause', 'Open files against the limit', 'Event-loop lag', 'Phase', 'Server under test',
    'Connections by transport', 'Memory per node', 'CPU per node', 'CPU per component']) {
    assert.ok(titles.includes(want), `panel '${want}' in ${titles}`);
  }
  const queries = panelQueries(dashboard);
  assert.ok(queries.length >= 20);
  // A description says what the panel draws: one that speaks of CPU has a CPU query, and of memory a memory query.
  for (const p of dashboard.panels) {
    const exprs = queries.filter((q) => q.panel === p.title).map((q) => q.expr).join(' ');
    if (/\bCPU\b/.test(p.description)) assert.match(exprs, /cpu/, `${p.title}: its description speaks of CPU`);
    if (/^Memory/.test(p.title)) assert.match(exprs, /memory/, `${p.title}: a memory query`);
  }
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
  // Transports by the server's own label (chunked, sse, poll, ws), nodes by the exporter's lab_component_info.
  assert.ok(queries.some((q) => q.panel === 'Connections by transport' && /by \(transport\)/.test(q.expr)));
  assert.ok(queries.some((q) => q.panel === 'Memory per node' && q.expr.includes(COMPONENT_INFO_METRIC)));
  // Threshold lines where the lab has a limit or a target.
  const limits = dashboard.panels.filter((p: any) => p.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode === 'dashed').map((p: any) => p.title);
  assert.deepEqual(limits.sort(), ['Delivery latency p50 / p99', 'Memory per connection', 'Open files against the limit']);
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
  assert.deepEqual(loadDashboard(), JSON.parse(JSON.stringify(buildDashboard())));
});
