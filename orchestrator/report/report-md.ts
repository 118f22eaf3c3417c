/**
 * report.md: the run for a person to read. Every figure says how it was measured (which probe, which count, over
 * which phase), so that numbers from a cgroup and from /proc are never compared unknowingly.
 */
import type { LatencySummary } from '../../shared/contracts.ts';
import type { RunRecord } from './run-record.ts';
import { chunksNotApplying } from './summary-document.ts';
import { MIN_R2, type MemoryFigures, type Summary } from './summarize.ts';
import { renderTargetSection } from './target-section.ts';

const kib = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 1024).toFixed(2)} KiB`);
const mib = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
const num = (v: number | undefined, digits = 0) => (v === undefined ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits }));

function memorySection(title: string, m: MemoryFigures): string[] {
  return [
    `### ${title}`,
    '',
    `Measured by **${m.method || 'unknown'}** over ${m.components.join(', ') || 'no component'}: working set = usage - inactive file cache (as \`docker stats\`), per sample; connections as counted by the ${m.countedBy === 'server' ? 'server side (established connections on its port, counted by the kernel)' : "load generators' `/status` (active)"}.`,
    '',
    '| figure | value | how |',
    '| --- | --- | --- |',
    `| **per connection (the figure to read)** | **${kib(m.perConnection?.bytes)}** | ${m.perConnection?.how ?? 'not measured'} |`,
    `| per connection, ramp slope | ${m.fit && m.fit.slope > 0 ? kib(m.fit.slope) : 'n/a'}${m.fit && m.fit.r2 < MIN_R2 ? ' (unreliable fit)' : ''} | least-squares line through ${m.fit?.points ?? 0} samples of the ${m.fitPhases ?? 'ramp'}, R² ${m.fit ? m.fit.r2.toFixed(4) : 'n/a'} |`,
    `| per connection, total/N at hold | ${kib(m.holdPerConnectionBytes)} | mean working set over the hold / mean connections (${num(m.holdConnections)}), base included |`,
    `| per connection above base at hold | ${kib(m.holdAboveBaselinePerConnectionBytes)} | (hold mean - first sample) / connections |`,
    `| base (first sample, no connection) | ${mib(m.baselineBytes)} | |`,
    `| total at hold | ${mib(m.holdBytes)} | mean over the hold samples |`,
    `| of which kernel memory (slab: sockets, epoll, files) | ${m.kernelPerConnectionBytes === undefined ? 'not separated by this probe' : `${kib(m.kernelPerConnectionBytes)} per connection above base, ${mib(m.kernelBytesAtHold)} at hold`} | ${m.method.includes('v1') ? 'memory.kmem.usage_in_bytes' : m.method.includes('v2') ? 'memory.stat kernel' : ''}, included in the working set |`,
    ...(m.kernelSocketBytes === undefined ? [] : [`| socket buffers charged to the group | ${mib(m.kernelSocketBytes)} | ${m.method.includes('v2') ? 'memory.stat sock' : 'memory.kmem.tcp.usage_in_bytes'}, at the end of the hold |`]),
    '',
  ];
}

function latencyTable(by: Record<string, LatencySummary> | undefined): string[] {
  if (!by || Object.keys(by).length === 0) return ['(none)', ''];
  return [
    '| load generator | messages | p50 ms | p90 ms | p99 ms | max ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(by).map(([name, l]) => `| ${name} | ${l.count} | ${l.p50.toFixed(2)} | ${l.p90.toFixed(2)} | ${l.p99.toFixed(2)} | ${l.max.toFixed(2)} |`),
    '',
  ];
}

/** Swarm runs: memory per node and per component, where each load generator ran, what happened to the nodes. */
function perNodeSection(s: Summary): string[] {
  if (!s.nodes) return [];
  const m = (b?: number) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
  return [
    '### Per node',
    '',
    '| node | runs | working set, hold mean | node engine\'s stats, same samples |',
    '| --- | --- | --- | --- |',
    ...s.nodes.map((n) => `| ${n.node} | ${[n.server ? 'server' : '', ...n.loadgens].filter(Boolean).join(', ')} | ${m(n.holdBytes)} | ${m(n.crossCheckHoldBytes)} |`),
    '',
    '| component | node | working set, hold mean | node engine\'s stats | method |',
    '| --- | --- | --- | --- | --- |',
    ...(s.components ?? []).map((c) => `| ${c.name} | ${c.node ?? ''} | ${m(c.holdBytes)} | ${m(c.crossCheckHoldBytes)} | ${c.method ?? ''} |`),
    '',
    'Working set: each container read its own cgroup (usage minus inactive file, the `docker stats` formula) and reported it through its API; the engine column is one-shot `stats` from that node\'s engine, read in the same sample where the manager can reach the engine (COMET_LAB_NODE_ENGINES).',
    ...(s.backendEvents?.length ? ['', 'What the swarm did during the run:', '', ...s.backendEvents.map((e) => `- ${new Date(e.atMs).toISOString()}: ${e.what}`)] : []),
    '',
  ];
}

export function renderReportMd(s: Summary, record: RunRecord): string {
  const p = record.plan;
  const env = record.environment;
  const notApplying = chunksNotApplying(record);
  const errors = Object.entries(s.errors).filter(([c, v]) => c !== 'total' && v > 0);
  const lines = [
    `# comet-lab flood: ${num(s.n)} connections, ${s.backend} backend`,
    '',
    s.complete ? `Run complete (${s.startedAt}, ${s.durationSeconds.toFixed(1)} s).` : `**INCOMPLETE**: ${s.incomplete}. The figures below are what was measured before it stopped.`,
    ...(s.targetReached ? [] : ['', `**TARGET MISSED**: ${num(s.reached.client)} of ${num(s.n)} connections were held at most (errors by cause below).`]),
    ...(s.degraded?.length ? ['', `**DEGRADED**: ${s.degraded.join('; ')}.`] : []),
    '',
    ...renderTargetSection(s),
    '## Connections',
    '',
    '| figure | value | how |',
    '| --- | --- | --- |',
    `| N asked | ${num(s.n)} | |`,
    `| reached, client side | **${num(s.reached.client)}** | most active connections summed over the load generators' \`/status\` |`,
    `| reached, server side | ${num(s.reached.server)} | most established connections on the server's port (${s.server.connectionsCountedBy}) |`,
    `| time to reach N | ${s.secondsToTarget === undefined ? `not reached (ramp ${s.rampEndedBy ?? 'n/a'})` : `${s.secondsToTarget.toFixed(1)} s`} | first POST /ramp to N active, polled every 0.2 s |`,
    `| ramp rate | **${num(s.rampRate)} /s** (asked ${num(s.askedRate)} /s) | reached / time to reach |`,
    `| plan | ${p.server.workers} server workers, ${p.loadgens.length} load generators (${p.loadgens.reduce((a, l) => a + l.procs, 0)} processes), ${p.transport}, heartbeat ${p.server.heartbeatIntervalMs} ms | |`,
    '',
    '## Memory',
    '',
    ...memorySection('Server', s.memory.server),
    ...memorySection('Load generators (all together)', s.memory.loadgen),
    ...perNodeSection(s),
    '### Kernel socket memory',
    '',
    `- Socket buffers (queued data): ${mib(s.kernel.tcpBytesBaseline)} before the ramp, ${mib(s.kernel.tcpBytesAtHold)} at the hold (${s.kernel.method}); idle streams queue nothing, so this stays small between heartbeats and is not divided per connection.`,
    `- Socket structures: host-wide slab (/proc/meminfo Slab) grew from ${mib(s.kernel.slabBytesBaseline)} to ${mib(s.kernel.slabBytesAtHold)}: **${kib(s.kernel.slabPerConnectionBytes)} per connection** (two sockets each on loopback). Under cgroups this slab is also charged to each component's working set (the "of which kernel memory" rows above), so do not add it to the figures above.`,
    `- v1 TCP buffer accounting per cgroup (memory.kmem.tcp.usage_in_bytes) is turned on for every group but reads 0 on this kernel; the host-wide figures are the kernel's share.`,
    '',
    'Host-wide figures include every other TCP socket of the host (other runs on the same machine make them noisy).',
    '',
    `Expected by the planner: server ${mib(p.expectedMemory.server)}, load generators ${mib(p.expectedMemory.loadgen)}, kernel ${mib(p.expectedMemory.kernel)}.`,
    '',
    '## Errors by cause',
    '',
    errors.length ? errors.map(([c, v]) => `- ${c}: ${v}`).join('\n') : 'None (summed over the load generators\' final `/status`).',
    '',
    ...(record.outcome?.errors.length ? ['Run events:', '', ...record.outcome.errors.map((e) => `- ${new Date(e.atMs).toISOString()} ${e.code}${e.component ? ` (${e.component})` : ''}: ${e.message}`), ''] : []),
    '## Chunks',
    '',
    p.transport === 'poll'
      ? 'Long-poll streams get no heartbeat chunks (only messages answer a poll): no expected count applies.'
      : notApplying
        ? `No expected count: ${notApplying}. Received over the hold (${s.chunks.holdSeconds?.toFixed(1) ?? 'n/a'} s): ${num(s.chunks.received)} chunks (load generators' chunk counter).`
        : `Over the hold (${s.chunks.holdSeconds?.toFixed(1) ?? 'n/a'} s between its first and last sample): expected ${num(s.chunks.expected)} (mean active x seconds / heartbeat interval), received ${num(s.chunks.received)} (load generators' chunk counter)${s.chunks.expected ? `: **${((100 * (s.chunks.received ?? 0)) / s.chunks.expected).toFixed(1)}%**` : ''}.`,
    `Whole run: server sent ${num(s.chunks.serverSentTotal)} heartbeat/message chunks (its /stats), load generators received ${num(s.chunks.clientReceivedTotal)} chunks, which also counts each stream's welcome chunk (one per connection opened).`,
    '',
    '## Messages',
    '',
  ];
  if (s.sends) {
    const a = s.sends;
    lines.push(
      `### Routed sends (autocannon, POST /send/:id to random connected ids)`,
      '',
      `Asked ${a.askedRate}/s for ${a.seconds} s${a.connections ? ` over ${a.connections} connections` : ''}: ${num(a.requests)} requests, sustained **${num(a.sustainedRate)} /s** (2xx per second)${a.accepted === undefined ? '' : `, ${num(a.accepted)} accepted`}${a.notFound === undefined ? '' : `, ${num(a.notFound)} not found (404: the id's connection had closed)`}, ${a.non2xx} non-2xx in all, ${a.errors} errors, ${a.timeouts} timeouts; ${num(a.messagesReceived)} messages received.${a.idsFromPlan ? ` ${a.idsFromPlan} load generator(s) could not list their active ids: their sends went to planned ids.` : ''}`,
      `HTTP round trip (autocannon): p50 ${a.requestLatencyMs.p50} ms, p90 ${a.requestLatencyMs.p90} ms, p99 ${a.requestLatencyMs.p99} ms, max ${a.requestLatencyMs.max} ms.`,
      '',
      'Delivery latency (server accepted the send -> client parsed it; load generators\' HDR histograms, reset before the phase):',
      '',
      ...latencyTable(s.delivery.sends),
    );
  }
  if (s.broadcast) {
    const b = s.broadcast;
    lines.push(
      '### Broadcast',
      '',
      `One POST /broadcast to ${num(b.expected)} active connections (${b.answerLate ? `the server's answer came after ${num(b.answerTimeoutMs)} ms: counted by the load generators` : `server wrote it to ${num(b.serverDelivered)} streams`}): ${num(b.received)} received (${b.complete ? 'all' : 'NOT all, timed out'}); fan-out **${b.fanOutMs === undefined ? 'n/a' : `${b.fanOutMs.toFixed(1)} ms`}** (latest arrival - publish time).`,
      '',
      ...latencyTable(s.delivery.broadcast),
    );
  }
  if (!s.sends && !s.broadcast) lines.push('No message phase in this run (`--sends-rate`, `--broadcast`).', '');
  lines.push(
    '## CPU',
    '',
    ...Object.entries(s.cpuSeconds).map(([c, v]) => `- ${c}: ${v.toFixed(1)} s (user + system over its process tree, /proc/<pid>/stat)`),
    '',
    '## Environment',
    '',
    `- kernel ${env.kernel}, Node ${env.node}, ${env.cores} cores (${env.cpuModel}), RAM ${mib(env.memTotalBytes)} (available at start ${mib(env.memAvailableBytes)})`,
    `- open files per process: soft ${env.nofile.soft}, hard ${env.nofile.hard}`,
    ...(env.loadAverage ? [`- load average at the start: ${env.loadAverage.join(', ')}${env.loadAverage[0]! > env.cores ? ' (above the core count: other work shared the CPUs, figures are noisy)' : ''}`] : []),
    ...Object.entries(env.sysctls).map(([k, v]) => `- ${k} = ${v}`),
    `- cgroups: v1 memory ${env.cgroup.v1Memory ? 'yes' : 'no'}, v2 ${env.cgroup.v2 ? 'yes' : 'no'}; dockerd running: ${env.dockerRunning ? 'yes' : 'no'}`,
    '',
    'Files: `samples.csv` (raw, one row a second), `run.json` (config, plan, outcome), `summary.json`, `report.html` (charts).',
    '',
  );
  return lines.join('\n');
}
