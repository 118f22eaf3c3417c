/** The human-readable results file (`<UTC time>-<host>.md`), made from the JSON results alone. */
import type { FloodFigures } from '../flood/flood-figures.ts';
import type { BenchResults } from './results.ts';
import { fmtInt, kb, mib, ms, pct, verdict } from './format.ts';
import { compareBroadcast, compareCpu, roundsText } from '../pairs/pair-figures.ts';

function memorySection(r: BenchResults): string[] {
  const m = r.memory;
  if (!m) return [];
  const floor = m.results.find((x) => x.kind === 'floor');
  const nchan = m.results.find((x) => x.kind === 'nchan');
  const lines = [
    `## 1. Memory per idle connection (${fmtInt(m.n)} connections, one worker, ${m.intervalSeconds} s heartbeat)`,
    '',
    `Method: ${m.method}. total/N includes the process's fixed base.`,
    '',
    '| server | held | KB/conn | user | kernel | total/N | / floor | nchan / it | processes | host TCP buffers/conn (sockstat) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const x of m.results) {
    const p = x.perConnection;
    const vsFloor = floor && x !== floor ? `${(p.total / floor.perConnection.total).toFixed(2)}x` : '';
    const nchanOver = nchan && x.kind === 'engine' ? `${(nchan.perConnection.total / p.total).toFixed(2)}x` : '';
    lines.push(`| ${x.target} | ${fmtInt(x.held)}${x.errors ? ` (${fmtInt(x.errors)} failed: ${Object.entries(x.errorsByCause ?? {}).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')})` : ''} | **${kb(p.total)}** | ${kb(p.user)} | ${kb(p.kernel)} | ${kb(x.totalPerConnection)} | ${vsFloor} | ${nchanOver} | ${x.processes} | ${kb(x.sockstatTcpPerConnection)} |`);
  }
  for (const f of m.failures) lines.push(`| ${f.target} | FAILED: ${f.error.split('\n')[0]} | | | | | | | | |`);
  lines.push('');
  return lines;
}

function cpuSection(r: BenchResults): string[] {
  const c = r.cpu;
  if (!c) return [];
  const lines = [
    `## CPU per heartbeat chunk against the C pair (${fmtInt(c.n)} streams, one process per side, ${c.rounds} rounds asked, ${c.windowSeconds} s windows after ${c.settleSeconds} s)`,
    '',
    `Method: ${c.method}. Medians of the rounds measured: a round that failed has no window and is left out (rounds column; its error under "Every run"). C pair built by ${c.compiler}; comet-lab's batch-io addon: ${c.batchIo}.`,
    '',
    '| transport | chunks/s asked | rounds measured (comet-lab, C) | comet-lab µs/chunk (server + load generator) | C µs/chunk (server + client) | comet-lab / C (rounds) | softirq µs/chunk, apart (comet-lab, C) | received of asked (comet-lab, C) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const x of compareCpu(c)) {
    lines.push(`| ${x.transport} | ${fmtInt(x.rate)} (${x.intervalMs} ms) | ${roundsText(x.comet)}, ${roundsText(x.c)} | ${x.comet.total.toFixed(1)} (${x.comet.server.toFixed(1)} + ${x.comet.client.toFixed(1)}) | ${x.c.total.toFixed(1)} (${x.c.server.toFixed(1)} + ${x.c.client.toFixed(1)}) | **${x.ratio.toFixed(2)}x** (${x.ratioRange[0].toFixed(2)}-${x.ratioRange[1].toFixed(2)}x) | ${x.comet.softirq.toFixed(1)}, ${x.c.softirq.toFixed(1)} | ${pct(x.comet.delivered)}, ${pct(x.c.delivered)} |`);
  }
  lines.push('', 'Every run (medians above):', '', '| transport | chunks/s | round | pair | µs/chunk | server user + sys s | client user + sys s | chunks in window | of asked | host busy |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const x of c.runs) {
    const w = x.window;
    lines.push(`| ${x.transport} | ${fmtInt(x.rate)} | ${x.round} | ${x.impl} | ${w.usPerChunk.toFixed(2)} | ${w.server.user.toFixed(2)} + ${w.server.system.toFixed(2)} (${w.server.processes} proc) | ${w.client.user.toFixed(2)} + ${w.client.system.toFixed(2)} (${w.client.processes} proc) | ${fmtInt(w.chunks)} | ${pct(w.chunks / w.expectedChunks)} | ${pct(w.hostBusy)} |`);
  }
  for (const f of c.failures) lines.push(`| ${f.what} | FAILED: ${f.error.split('\n')[0]} | | | | | | | | |`);
  lines.push('');
  return lines;
}

function broadcastSection(r: BenchResults): string[] {
  const b = r.broadcast;
  if (!b) return [];
  const lines = [
    `## Broadcast against the C pair (${b.intervalSeconds} s heartbeat, ${b.rounds} broadcasts per pair)`,
    '',
    `Method: ${b.method}.`,
    '',
    '| N | processes per side | comet-lab fan-out (p50, p99) | C fan-out (p50, p99) | comet-lab / C |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const x of compareBroadcast(b)) {
    lines.push(`| ${fmtInt(x.n)} | ${x.comet.processes} | **${ms(x.comet.fanOutMs)}**${x.comet.complete ? '' : ' (INCOMPLETE)'} (${ms(x.comet.p50Ms, 1)}, ${ms(x.comet.p99Ms, 1)}) | **${ms(x.c.fanOutMs)}**${x.c.complete ? '' : ' (INCOMPLETE)'} (${ms(x.c.p50Ms, 1)}, ${ms(x.c.p99Ms, 1)}) | **${x.ratio.toFixed(2)}x** |`);
  }
  lines.push('', '| N | pair | round | held | received | fan-out | p50 | p99 |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const x of b.runs) lines.push(`| ${fmtInt(x.n)} | ${x.impl} | ${x.round} | ${fmtInt(x.held)} | ${fmtInt(x.received)} | ${ms(x.fanOutMs)} | ${ms(x.p50Ms, 1)} | ${ms(x.p99Ms, 1)} |`);
  for (const f of b.failures) lines.push(`| ${f.what} | FAILED: ${f.error.split('\n')[0]} | | | | | | |`);
  lines.push('');
  return lines;
}

/**
 * The hold's process CPU as cores and per held connection: at a long heartbeat few chunks are sent, so CPU per
 * chunk mostly measures what holding costs (timers, sampling answers, GC), which this row shows directly.
 */
function holdCpu(f: FloodFigures): string {
  const c = f.cpu, held = f.reached.server;
  if (!c.holdSeconds || c.serverSeconds === undefined || c.loadgenSeconds === undefined || held <= 0) return 'n/a';
  const cores = (x: number) => (x / c.holdSeconds!).toFixed(2);
  const perConn = (x: number) => ((x / c.holdSeconds! / held) * 1e6).toFixed(2);
  return `server ${cores(c.serverSeconds)} cores, load generators ${cores(c.loadgenSeconds)} cores for ${fmtInt(held)} connections at ${fmtInt(f.chunks.receivedPerSecond)} chunks/s: ${perConn(c.serverSeconds)} + ${perConn(c.loadgenSeconds)} µs of CPU per held connection per second`;
}

function floodSection(f: FloodFigures): string[] {
  const c = f.cpu;
  const lines = [
    `## Flood at ${fmtInt(f.nAsked)}${(f.transport ?? 'chunked') === 'chunked' ? '' : ` (${f.transport})`}, ${f.chunks.intervalSeconds} s heartbeat${f.n !== f.nAsked ? ` (run at ${fmtInt(f.n)}: ${f.capacity.planRefusal ? `the planner refused ${fmtInt(f.nAsked)}: ${f.capacity.planRefusal}` : `the doctor holds at most ${fmtInt(f.capacity.maxN)}, limited by ${f.capacity.limitedBy}`})` : !f.capacity.fits ? ` (--force: run as asked past the doctor's estimate of at most ${fmtInt(f.capacity.maxN)}, limited by ${f.capacity.limitedBy})` : ''}`,
    '',
    `${f.complete && f.reached.client >= f.n ? 'Complete.' : `**Incomplete**: ${f.incomplete ?? (f.reached.client < f.n ? `N not reached: ${fmtInt(f.reached.client)} of ${fmtInt(f.n)} held (ramp ended by ${f.rampEndedBy ?? 'n/a'})` : f.timedOut ? 'time bound' : 'see report')}.`} Orchestrator report: \`${f.reportDir}\`.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| reached (load generators / server) | ${fmtInt(f.reached.client)} / ${fmtInt(f.reached.server)} of ${fmtInt(f.n)} |`,
    `| time to reach N | ${f.secondsToTarget === undefined ? `not reached (ramp ended by ${f.rampEndedBy ?? 'n/a'} after ${f.rampSeconds?.toFixed(1) ?? 'n/a'} s)` : `${f.secondsToTarget.toFixed(1)} s (${fmtInt(f.rampRate)}/s; ${fmtInt(f.askedRate)}/s asked)`} |`,
    `| server memory per connection | ${kb(f.server.slopeBytes)} fit slope (R² ${f.server.slopeR2?.toFixed(3) ?? 'n/a'}), ${kb(f.server.totalPerConnectionBytes)} total/N; ${f.server.workers} workers, engine ${f.server.engine} |`,
    `| server growth per connection, ramp (cgroups) | ${f.server.growthPerConnection ? `${kb(f.server.growthPerConnection.total)}: user ${kb(f.server.growthPerConnection.user)}, kernel ${kb(f.server.growthPerConnection.kernel)}` : 'n/a'} |`,
    `| server memory at the hold's end | ${mib((f.server.userBytes ?? NaN) + (f.server.kernelBytes ?? NaN))}: user ${mib(f.server.userBytes)}, kernel ${mib(f.server.kernelBytes)} (TCP buffers ${mib(f.server.tcpBufferBytes)}) |`,
    `| load-generator memory per connection | ${kb(f.loadgen.slopeBytes)} fit slope (R² ${f.loadgen.slopeR2?.toFixed(3) ?? 'n/a'}), ${kb(f.loadgen.totalPerConnectionBytes)} total/N; ${f.loadgen.processes} processes |`,
    `| load-generator growth per connection, ramp (cgroups) | ${f.loadgen.growthPerConnection ? `${kb(f.loadgen.growthPerConnection.total)}: user ${kb(f.loadgen.growthPerConnection.user)}, kernel ${kb(f.loadgen.growthPerConnection.kernel)}` : 'n/a'} |`,
    `| load-generator memory at the hold's end | user ${mib(f.loadgen.userBytes)}, kernel ${mib(f.loadgen.kernelBytes)} (TCP buffers ${mib(f.loadgen.tcpBufferBytes)}) |`,
    `| kernel TCP buffer memory (host, sockstat) | ${mib(f.kernel.tcpBytesAtHold)} at the hold, ${f.kernel.perConnectionBytes === undefined ? 'n/a' : kb(f.kernel.perConnectionBytes)} per connection over the baseline; ${fmtInt(f.kernel.socketsInUse)} TCP sockets in use |`,
    `| heartbeat chunks in the hold (${f.chunks.intervalSeconds} s interval) | ${fmtInt(f.chunks.received)} received of ${fmtInt(f.chunks.expected)} expected (${pct(f.chunks.ratio)}) in ${f.chunks.holdSeconds?.toFixed(0) ?? 'n/a'} s: ${fmtInt(f.chunks.receivedPerSecond)}/s of ${fmtInt(f.chunks.expectedPerSecond)}/s |`,
    `| CPU per delivered chunk (hold) | server ${c.serverUsPerChunk?.toFixed(1) ?? 'n/a'} µs (${c.serverSeconds?.toFixed(2) ?? 'n/a'} s / ${c.serverChunksUnusable ? `${fmtInt(c.clientChunks)} received: the server's sent count, ${fmtInt(c.serverChunks)}, fell as starved workers missed samples` : c.serverChunksMissing ? `${fmtInt(c.clientChunks)} received: the hold's samples have no server sent count` : `${fmtInt(c.serverChunks)} sent`}), load generators ${c.loadgenUsPerChunk?.toFixed(1) ?? 'n/a'} µs (${c.loadgenSeconds?.toFixed(2) ?? 'n/a'} s / ${fmtInt(c.clientChunks)} received), end to end ${c.totalUsPerChunk?.toFixed(1) ?? 'n/a'} µs |`,
    `| CPU while holding (hold) | ${holdCpu(f)} |`,
    `| host CPU (/proc/stat, ${c.hostHold?.cores ?? 'n/a'} cores) | ramp ${pct(c.hostRamp?.busy)} busy (softirq ${pct(c.hostRamp?.softirq)}), hold ${pct(c.hostHold?.busy)} busy (softirq ${pct(c.hostHold?.softirq)}), sends ${pct(c.hostSends?.busy)} (server ${c.sendsServerCores?.toFixed(2) ?? 'n/a'} cores, load generators ${c.sendsLoadgenCores?.toFixed(2) ?? 'n/a'}), broadcast ${pct(c.hostBroadcast?.busy)} |`,
    `| errors by cause | ${Object.entries(f.errors).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') || 'none'} |`,
  ];
  if (f.fanout) {
    const b = f.fanout;
    lines.push(`| fan-out: one broadcast | ${fmtInt(b.received)} of ${fmtInt(b.expected)} delivered${b.complete ? '' : ' (INCOMPLETE)'}; publish to last delivery ${ms(b.fanOutMs)}; p50 ${ms(b.p50Ms, 1)}, p99 <= ${ms(b.p99Ms, 1)} |`);
  }
  if (!f.fanout && f.incomplete?.includes('/broadcast')) lines.push(`| fan-out: one broadcast | FAILED: ${f.incomplete} |`);
  if (f.sends) {
    const s = f.sends;
    lines.push(`| routed sends (autocannon, POST /send/:id) | ${fmtInt(s.sustainedRate)}/s sustained of ${fmtInt(s.askedRate)}/s asked over ${s.seconds.toFixed(0)} s (${fmtInt(s.requests)} requests, ${fmtInt(s.non2xx)} non-2xx, ${fmtInt(s.errors)} errors, ${fmtInt(s.timeouts)} timeouts); delivery p50 ${ms(s.p50Ms, 1)}, p99 <= ${ms(s.p99Ms, 1)}; request p50 ${ms(s.requestP50Ms)}, p99 ${ms(s.requestP99Ms)} |`);
  }
  lines.push('', `Memory: ${f.memoryMethod.server} (server), ${f.memoryMethod.loadgen} (load generators); kernel: ${f.kernel.method}.`, '');
  return lines;
}

export function renderResultsMd(r: BenchResults): string {
  const h = r.host;
  const out = [
    `# comet-lab bench, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${h.hostname}`,
    '',
    `- command: \`${r.command}\``,
    `- machine: ${h.cores} cores (${h.cpuModel}), ${(h.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, kernel ${h.kernel}, Node ${h.node}, open files ${h.fileLimit}, ip_local_port_range ${h.ipLocalPortRange}`,
    `- started ${r.startedAt}, finished ${r.finishedAt}${r.interrupted ? ' (INTERRUPTED)' : ''}; stages: ${r.stages.join(', ')}`,
    `- noise: ${fmtInt(h.atStart.tcpInUse)} TCP sockets already open and load average ${h.atStart.loadAverage1m.toFixed(2)} when it began (the machine is shared; compare ratios, not absolute times)`,
    '',
    '## Targets',
    '',
    ...(r.floods.length && r.floods[0]!.chunks.intervalSeconds !== 10
      ? [`The floods of this run are at a ${r.floods[0]!.chunks.intervalSeconds} s heartbeat, not the issue's 10 s: the flood targets below are checked at it (a hold at a longer heartbeat is not a hold at 10 s, so that one is 'not measured').`, '']
      : []),
    '| target | measured | verdict | by | cause (from the profile) |',
    '| --- | --- | --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured}${t.atN ? ` (at ${fmtInt(t.atN)})` : ''} | ${verdict(t.met)} | ${t.by ?? ''} | ${t.cause ?? ''} |`),
    '',
    ...memorySection(r),
    ...cpuSection(r),
    ...(r.floods.length ? ['## 2-4. Floods, fan-out, routed sends', ''] : []),
    ...r.floods.flatMap(floodSection),
    ...r.floodFailures.flatMap((f) => [`## Flood at ${fmtInt(f.n)}: FAILED`, '', f.error, '']),
    ...broadcastSection(r),
    'KB = 1,024 bytes. p99 across connections is the largest of the load generators\' p99s (an upper bound); p50 is their count-weighted mean.',
    '',
  ];
  return out.join('\n');
}
