/**
 * The source of dashboards/grafana/dashboards/comet-lab.json, built with Grafana's typed Foundation SDK
 * (`@grafana/grafana-foundation-sdk`: builders generated from Grafana's own schema, so a misspelt option or a wrong
 * unit type fails `tsc`, not a user's import). Edit here, then regenerate:
 *   node_modules/.bin/node dashboards/grafana/dashboard-source.ts > dashboards/grafana/dashboards/comet-lab.json
 * dashboard-files.test.ts fails while the committed JSON differs from what this builds.
 *
 * Importable anywhere: every panel reads the data source variable `${datasource}`, which lists every Prometheus data
 * source and starts on the default one (the lab's provisioned one); the user switches it in the dashboard's drop-down.
 * No `__inputs`: Grafana's import replaces only `${DS_...}` strings with the data source chosen on its screen, and
 * file provisioning replaces nothing (panels reading `${DS_PROMETHEUS}` then fail with "Datasource ${DS_PROMETHEUS}
 * was not found": grafana/grafana#80666, spegel-org/spegel#1309), so the variable alone works both ways.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

const DS: dashboard.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const RI = '$__rate_interval';
/** The lab's machines: 20,000 open files per process, hard (README). */
const FILE_LIMIT = 20_000;
/** The memory targets: server <= 4 KB and load generator <= 3 KB per connection. */
const SERVER_TARGET_BYTES = 4 * 1024;

type Query = [expr: string, legend: string];

const queries = (list: Query[]) =>
  list.map(([expr, legend], i) => new prometheus.DataqueryBuilder().datasource(DS).refId(String.fromCharCode(65 + i)).expr(expr).legendFormat(legend).range());

const thresholds = (steps: Array<[number | null, string]>) =>
  new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));

let nextId = 0;

/** A time series panel: lines, a table legend with last and max, a shared tooltip; `limit` draws a threshold line. */
function series(title: string, description: string, unit: string, list: Query[], size: { w: number; h?: number }, limit?: { value: number; color: string }) {
  const p = new timeseries.PanelBuilder()
    .id(++nextId)
    .title(title)
    .description(description)
    .datasource(DS)
    .targets(queries(list))
    .unit(unit)
    .min(0)
    .lineWidth(2)
    .fillOpacity(0)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .gridPos({ x: 0, y: 0, w: size.w, h: size.h ?? 8 })
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).showLegend(true).calcs(['lastNotNull', 'max']))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (limit) {
    p.thresholds(thresholds([[null, 'transparent'], [limit.value, limit.color]]))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  }
  return p;
}

/** A stat panel showing the last value (or the series name, for labels-as-facts such as the phase). */
function single(title: string, description: string, list: Query[], w: number, text: common.BigValueTextMode) {
  return new stat.PanelBuilder()
    .id(++nextId)
    .title(title)
    .description(description)
    .datasource(DS)
    .targets(queries(list))
    .gridPos({ x: 0, y: 0, w, h: 4 })
    .textMode(text)
    .colorMode(common.BigValueColorMode.None)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** The comet-lab Grafana dashboard as Grafana's JSON model, with `__inputs`/`__requires` for import. */
export function buildDashboard(): Record<string, unknown> {
  nextId = 0;
  const up = 'lab_component_up';
  const onNode = (expr: string) => `sum by (node) (${expr} * on (component) group_left (node) lab_component_info)`;
  const board = new dashboard.DashboardBuilder('comet-lab')
    .uid('comet-lab')
    .description('A comet flood: the server under test, transports, connections, memory per component, per connection and per node, throughput, latency, errors, limits.')
    .tags(['comet-lab'])
    .timezone('utc')
    .readonly()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh('10s')
    .time({ from: 'now-15m', to: 'now' })
    // Grafana's default minimum refresh is 5 s (min_refresh_interval): no option below it.
    .timepicker(new dashboard.TimePickerBuilder().refreshIntervals(['5s', '10s', '30s', '1m', '5m']))
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'))
    // Row 1: what runs.
    .withPanel(single('Phase', 'The run phase in progress (lab_phase == 1).', [['lab_phase == 1', '{{phase}}']], 4, common.BigValueTextMode.Name))
    .withPanel(single('Server under test', 'What the run measures: the target server, transport, backend and engine (lab_run_info).',
      [['lab_run_info', '{{target}} · {{transport}} · {{backend}} · {{engine}}']], 8, common.BigValueTextMode.Name))
    .withPanel(single('Target N', 'Connections the run ramps to.', [['lab_target_connections', 'target']], 3, common.BigValueTextMode.Value).unit('short'))
    .withPanel(single('Components', 'lab_component_up: a component that died shows DOWN (its memory series stop rather than fall to zero); scrape up is Prometheus reaching each target.',
      [[up, '{{component}}'], ['up{job=~"server|loadgen|lab"}', 'scrape {{job}} {{component}}']], 9, common.BigValueTextMode.ValueAndName)
      .colorMode(common.BigValueColorMode.Background)
      .mappings([{ type: dashboard.MappingType.ValueToText, options: { '0': { text: 'DOWN', color: 'red' }, '1': { text: 'up', color: 'green' } } }])
      .thresholds(thresholds([[null, 'red'], [1, 'green']])))
    // Row 2: connections.
    .withPanel(series('Connections', 'Open connections as the server counts them, as the load generators count them, and as the orchestrator sampled them, against the target.', 'short',
      [['sum(comet_open_connections)', 'server (comet_open_connections)'], ['sum(loadgen_active_connections)', 'client (loadgen_active_connections)'],
       ['lab_connections', '{{side}} (orchestrator sample)'], ['lab_target_connections', 'target N']], { w: 9 }))
    .withPanel(series('Connections by transport', 'Open streams per transport as the server counts them: chunked, SSE, long-poll and WebSocket (each appears once it holds a stream).', 'short',
      [['sum by (transport) (comet_open_connections)', '{{transport}}']], { w: 7 }))
    .withPanel(series('Connect rate', 'Connections accepted per second by the server, and the net change per second of connections the clients hold.', 'cps',
      [[`sum(rate(comet_connections_opened_total[${RI}]))`, 'server accepts/s'], [`sum(deriv(loadgen_active_connections[${RI}]))`, 'client net change/s']], { w: 8 }))
    // Row 3: memory.
    .withPanel(series('Memory per component', 'Working set (as docker stats counts it: usage minus inactive file cache) and kernel socket buffers per component; kernel TCP memory of the whole host apart.', 'bytes',
      [['lab_memory_bytes', '{{component}} {{kind}}'], ['lab_kernel_tcp_memory_bytes', 'kernel TCP (host)']], { w: 8 }))
    .withPanel(series('Memory per connection', 'Growth since the run started divided by connections held, once 100 are held (orchestrator), and the whole footprint divided by connections (derived here). Dashed line: the 4 KiB server target.', 'bytes',
      [['lab_memory_per_connection_bytes', '{{component}} growth/N'],
       [`sum(lab_memory_bytes * on (component) group_left (role) ${up}{role="server"}) / clamp_min(sum(comet_open_connections), 1)`, 'server total/N'],
       [`sum(lab_memory_bytes * on (component) group_left (role) ${up}{role="loadgen"}) / clamp_min(sum(loadgen_active_connections), 1)`, 'loadgen total/N']],
      { w: 8 }, { value: SERVER_TARGET_BYTES, color: 'orange' }))
    .withPanel(series('Memory per node', 'Working set of every component summed by the node (host) it runs on (lab_component_info).', 'bytes',
      [[onNode('lab_memory_bytes{kind="working_set"}'), '{{node}}']], { w: 8 }))
    // Row 4: throughput and latency.
    .withPanel(series('Chunks per second', 'Heartbeat and message chunks written by the server and parsed by the clients.', 'short',
      [[`sum(rate(comet_chunks_sent_total[${RI}]))`, 'server sent'], [`sum(rate(loadgen_chunks_received_total[${RI}]))`, 'clients received']], { w: 8 }))
    .withPanel(series('Messages per second', 'Routed sends and broadcasts delivered by the server and received by the clients.', 'short',
      [[`sum(rate(comet_messages_sent_total[${RI}]))`, 'server sent'], [`sum(rate(loadgen_messages_received_total[${RI}]))`, 'clients received']], { w: 8 }))
    .withPanel(series('Delivery latency p50 / p99', 'End to end (server send timestamp to client receipt, from the clients) and inside the server (accepting a send to writing it). Dashed line: the 100 ms p99 target.', 's',
      [['max(loadgen_delivery_latency_seconds{quantile="0.5"})', 'end to end p50'], ['max(loadgen_delivery_latency_seconds{quantile="0.99"})', 'end to end p99'],
       [`histogram_quantile(0.5, sum by (le) (rate(comet_message_delivery_seconds_bucket[${RI}])))`, 'server p50'],
       [`histogram_quantile(0.99, sum by (le) (rate(comet_message_delivery_seconds_bucket[${RI}])))`, 'server p99']], { w: 8 }, { value: 0.1, color: 'red' }))
    // Row 5: errors and limits.
    .withPanel(series('Errors by cause', 'Client connection failures by cause per second, and server-side closes by reason.', 'short',
      [[`sum by (cause) (rate(loadgen_errors_total[${RI}]))`, 'client {{cause}}'], [`sum by (reason) (rate(comet_connections_closed_total[${RI}]))`, 'server closed: {{reason}}']], { w: 8 }))
    .withPanel(series('Open files against the limit', `Open files of each server process against its limit (${FILE_LIMIT} per process on the lab machines: more connections need more processes), and of the other components that export process metrics. Dashed line: the limit.`, 'short',
      [['comet_process_open_fds', 'server {{role}} {{worker}}'], ['max(comet_process_max_fds)', 'limit per process'],
       ['process_open_fds{job=~"loadgen|lab"}', '{{job}} {{component}}']], { w: 8 }, { value: FILE_LIMIT, color: 'red' }))
    .withPanel(series('Event-loop lag', 'Worst server worker, and the p99 lag of the other Node processes that export it (the orchestrator; load generators once they export default metrics).', 's',
      [['max(comet_event_loop_lag_seconds)', 'server (worst worker)'], ['nodejs_eventloop_lag_p99_seconds{job=~"loadgen|lab"}', '{{job}} {{component}} p99']], { w: 8 }))
    // Row 6: CPU.
    .withPanel(series('CPU per component', 'CPU time per second (1 = one core) as the orchestrator\'s probes read it.', 'percentunit',
      [[`rate(lab_cpu_seconds_total[${RI}])`, '{{component}}']], { w: 12 }))
    .withPanel(series('CPU per node', 'CPU time per second of every component, summed by the node it runs on.', 'percentunit',
      [[onNode(`rate(lab_cpu_seconds_total[${RI}])`), '{{node}}']], { w: 12 }));

  const built = board.build();
  const panelTypes = [...new Set((built.panels ?? []).map((p) => (p as dashboard.Panel).type))].sort();
  return {
    // What the import screen lists as needed; the data source itself is the variable's (see the top of this file).
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '12.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ...panelTypes.map((id) => ({ type: 'panel', id, name: id, version: '' })),
    ],
    ...built,
  };
}

if (import.meta.main) process.stdout.write(JSON.stringify(buildDashboard(), null, 2) + '\n');
