/**
 * The source of dashboards/grafana/dashboards/comet-lab.json: panels as code (one line per query) rather than 1,000
 * lines of Grafana JSON. Edit here, then regenerate:
 *   node_modules/.bin/node dashboards/grafana/dashboard-source.ts > dashboards/grafana/dashboards/comet-lab.json
 * dashboard-files.test.ts fails while the committed JSON differs from what this builds.
 */

/** The comet-lab Grafana dashboard as Grafana's JSON model. */
export function buildDashboard(): any {
  const ds = { type: 'prometheus', uid: 'comet-lab-prometheus' };
  const RI = '$__rate_interval';
  const panels: any[] = [];
  let id = 0;
  function panel(type: string, title: string, description: string, gridPos: object, targets: Array<[string, string]>, fieldConfig: object = {}, options: object = {}): void {
    id++;
    panels.push({
      id, type, title, description, datasource: ds, gridPos,
      targets: targets.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), datasource: ds, expr, legendFormat, range: true, instant: false })),
      fieldConfig: { defaults: { ...fieldConfig }, overrides: [] },
      options,
    });
  }
  const ts = (unit: string, extra: object = {}) => ({ unit, custom: { lineWidth: 2, fillOpacity: 0, showPoints: 'never', spanNulls: false }, ...extra });
  const tsOpts = { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } };
  const up = `lab_component_up`;

  panel('stat', 'Phase', 'The run phase in progress (lab_phase == 1).', { x: 0, y: 0, w: 6, h: 4 },
    [['lab_phase == 1', '{{phase}}']], {}, { textMode: 'name', colorMode: 'none', graphMode: 'none', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } });
  panel('stat', 'Target N', 'Connections the run ramps to.', { x: 6, y: 0, w: 4, h: 4 },
    [['lab_target_connections', 'target']], { unit: 'short' }, { graphMode: 'none', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } });
  panel('stat', 'Components', 'lab_component_up: a component that died shows DOWN (its memory series stop rather than fall to zero); scrape up is Prometheus reaching each target.', { x: 10, y: 0, w: 14, h: 4 },
    [[up, '{{component}}'], ['up{job=~"server|loadgen|lab"}', 'scrape {{job}} {{component}}']],
    { mappings: [{ type: 'value', options: { '0': { text: 'DOWN', color: 'red' }, '1': { text: 'up', color: 'green' } } }], thresholds: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] } },
    { colorMode: 'background', graphMode: 'none', textMode: 'value_and_name', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } });

  panel('timeseries', 'Connections', 'Open connections as the server counts them, as the load generators count them, and as the orchestrator sampled them, against the target.', { x: 0, y: 4, w: 12, h: 8 },
    [['sum(comet_open_connections)', 'server (comet_open_connections)'], ['sum(loadgen_active_connections)', 'client (loadgen_active_connections)'],
     ['lab_connections', '{{side}} (orchestrator sample)'], ['lab_target_connections', 'target N']], ts('short'), tsOpts);
  panel('timeseries', 'Connect rate', 'Connections accepted per second by the server, and the net change per second of connections the clients hold.', { x: 12, y: 4, w: 12, h: 8 },
    [[`sum(rate(comet_connections_opened_total[${RI}]))`, 'server accepts/s'], [`sum(deriv(loadgen_active_connections[${RI}]))`, 'client net change/s']], ts('cps'), tsOpts);

  panel('timeseries', 'Memory per component', 'Working set (as docker stats counts it: usage minus inactive file cache) and kernel socket buffers per component; kernel TCP memory of the whole host apart.', { x: 0, y: 12, w: 12, h: 8 },
    [['lab_memory_bytes', '{{component}} {{kind}}'], ['lab_kernel_tcp_memory_bytes', 'kernel TCP (host)']], ts('bytes'), tsOpts);
  panel('timeseries', 'Memory per connection', 'Growth since the run started divided by connections held (orchestrator), and the whole footprint divided by connections (derived here).', { x: 12, y: 12, w: 12, h: 8 },
    [['lab_memory_per_connection_bytes', '{{component}} growth/N'],
     [`sum(lab_memory_bytes * on (component) group_left (role) ${up}{role="server"}) / clamp_min(sum(comet_open_connections), 1)`, 'server total/N'],
     [`sum(lab_memory_bytes * on (component) group_left (role) ${up}{role="loadgen"}) / clamp_min(sum(loadgen_active_connections), 1)`, 'loadgen total/N']], ts('bytes'), tsOpts);

  panel('timeseries', 'Chunks per second', 'Heartbeat and message chunks written by the server and parsed by the clients.', { x: 0, y: 20, w: 8, h: 8 },
    [[`sum(rate(comet_chunks_sent_total[${RI}]))`, 'server sent'], [`sum(rate(loadgen_chunks_received_total[${RI}]))`, 'clients received']], ts('short'), tsOpts);
  panel('timeseries', 'Messages per second', 'Routed sends and broadcasts delivered by the server and received by the clients.', { x: 8, y: 20, w: 8, h: 8 },
    [[`sum(rate(comet_messages_sent_total[${RI}]))`, 'server sent'], [`sum(rate(loadgen_messages_received_total[${RI}]))`, 'clients received']], ts('short'), tsOpts);
  panel('timeseries', 'Delivery latency p50 / p99', 'End to end (server send timestamp to client receipt, from the clients) and inside the server (accepting a send to writing it).', { x: 16, y: 20, w: 8, h: 8 },
    [['max(loadgen_delivery_latency_seconds{quantile="0.5"})', 'end to end p50'], ['max(loadgen_delivery_latency_seconds{quantile="0.99"})', 'end to end p99'],
     [`histogram_quantile(0.5, sum by (le) (rate(comet_message_delivery_seconds_bucket[${RI}])))`, 'server p50'],
     [`histogram_quantile(0.99, sum by (le) (rate(comet_message_delivery_seconds_bucket[${RI}])))`, 'server p99']], ts('s'), tsOpts);

  panel('timeseries', 'Errors by cause', 'Client connection failures by cause per second, and server-side closes by reason.', { x: 0, y: 28, w: 8, h: 8 },
    [[`sum by (cause) (rate(loadgen_errors_total[${RI}]))`, 'client {{cause}}'], [`sum by (reason) (rate(comet_connections_closed_total[${RI}]))`, 'server closed: {{reason}}']], ts('short'), tsOpts);
  panel('timeseries', 'Open files against the limit', 'Open files of each server process against its limit (20000 per process on the lab machines: more connections need more processes), and of the other components that export process metrics.', { x: 8, y: 28, w: 8, h: 8 },
    [['comet_process_open_fds', 'server {{role}} {{worker}}'], ['max(comet_process_max_fds)', 'limit per process'],
     ['process_open_fds{job=~"loadgen|lab"}', '{{job}} {{component}}']], ts('short'), tsOpts);
  panel('timeseries', 'Event-loop lag', 'Worst server worker, and the p99 lag of the other Node processes that export it (the orchestrator; load generators once they export default metrics).', { x: 16, y: 28, w: 8, h: 8 },
    [['max(comet_event_loop_lag_seconds)', 'server (worst worker)'], ['nodejs_eventloop_lag_p99_seconds{job=~"loadgen|lab"}', '{{job}} {{component}} p99']], ts('s'), tsOpts);

  panel('timeseries', 'CPU per component', 'CPU time per second (1 = one core) as the orchestrator\'s probes read it.', { x: 0, y: 36, w: 12, h: 8 },
    [[`rate(lab_cpu_seconds_total[${RI}])`, '{{component}}']], ts('percentunit'), tsOpts);

  const dash = {
    uid: 'comet-lab', title: 'comet-lab', description: 'A comet flood: connections, memory per component and per connection, throughput, latency, errors, limits.',
    tags: ['comet-lab'], timezone: 'utc', editable: false, graphTooltip: 1, schemaVersion: 39, version: 1, refresh: '5s',
    time: { from: 'now-15m', to: 'now' }, timepicker: { refresh_intervals: ['1s', '5s', '10s', '30s', '1m'] },
    templating: { list: [] }, annotations: { list: [] }, links: [], panels,
  };

  return dash;
}

if (import.meta.main) process.stdout.write(JSON.stringify(buildDashboard(), null, 2) + '\n');
