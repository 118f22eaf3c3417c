/**
 * summary.json: the report's figures as a versioned document (summary-schema.ts), built from the computed Summary
 * and run.json. Whatever was not measured is left out; the document is checked against its schema before it is
 * written, so a figure that breaks the schema (a negative, a NaN, an undeclared field) fails the report loudly
 * instead of reaching a reader.
 */
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { LatencySummary } from '../../shared/contracts.ts';
import { LabError } from '../../shared/errors.ts';
import type { RunRecord } from './run-record.ts';
import type { MemoryFigures, Summary } from './summarize.ts';
import { MIN_R2 } from './summarize.ts';
import { SUMMARY_SCHEMA_ID, SUMMARY_VERSION, SummarySchema, type SummaryV1, type Verdict } from './summary-schema.ts';

// TypeBox checks formats only once told what they mean: an ISO 8601 UTC time, as Date.prototype.toISOString writes.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) && !Number.isNaN(Date.parse(v)));

/** Drops undefined, NaN and negative numbers (the schema allows neither) from an object's own fields. */
function present<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(typeof v === 'number' && (!Number.isFinite(v) || v < 0)))) as T;
}

const pct = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? (100 * a) / b : undefined);

function memorySide(m: MemoryFigures): SummaryV1['server'] {
  const h = m.perConnection;
  return present({
    components: m.components,
    method: m.method || 'unknown',
    countedBy: m.countedBy,
    kibPerConnection: h ? h.bytes / 1024 : undefined,
    perConnectionBytes: h?.bytes,
    perConnectionMethod: h?.method,
    perConnectionHow: h?.how,
    fit: m.fit
      ? present({
          reliable: m.fit.r2 >= MIN_R2 && m.fit.slope > 0,
          r2: Math.min(1, Math.max(0, m.fit.r2)),
          points: m.fit.points,
          phases: m.fitPhases ?? 'ramp',
          slopeBytes: m.fit.slope > 0 ? m.fit.slope : undefined,
          interceptBytes: m.fit.intercept,
        })
      : undefined,
    baseBytes: m.baselineBytes,
    holdBytes: m.holdBytes,
    holdConnections: m.holdConnections,
    totalPerConnectionBytes: m.holdPerConnectionBytes,
    growthPerConnectionBytes: m.holdAboveBaselinePerConnectionBytes,
    kernelBytesAtHold: m.kernelBytesAtHold,
    kernelPerConnectionBytes: m.kernelPerConnectionBytes,
    socketBuffersBytes: m.kernelSocketBytes,
  });
}

/** The load generator with the worst p99 (percentiles of different histograms do not merge). */
type Latency = NonNullable<NonNullable<SummaryV1['sends']>['delivery']>;

function worst(by: Record<string, LatencySummary> | undefined): Latency | undefined {
  const w = Object.values(by ?? {}).filter((l) => l.count > 0).sort((a, b) => b.p99 - a.p99)[0];
  return w ? { p50Ms: w.p50, p99Ms: w.p99, count: w.count, from: 'worst load generator' } : undefined;
}

function verdictOf(s: Summary, record: RunRecord): { verdict: Verdict; text: string } {
  const o = record.outcome;
  if (o?.interrupted) return { verdict: 'interrupted', text: `interrupted: ${s.incomplete ?? 'stopped by a signal'}` };
  if (!s.complete) return { verdict: 'incomplete', text: `incomplete: ${s.incomplete ?? 'the run stopped early'}` };
  if (!s.targetReached) {
    return { verdict: 'target-missed', text: `target missed: ${s.reached.client.toLocaleString('en-US')} of ${s.n.toLocaleString('en-US')} held at most (ramp ended by ${s.rampEndedBy ?? 'n/a'})` };
  }
  // The same order as the exit code (run/exit-code.ts): interrupted, incomplete, target missed, degraded.
  if (o?.degraded?.length) return { verdict: 'degraded', text: `degraded: ${o.degraded.join('; ')}` };
  return { verdict: 'passed', text: `passed: ${s.n.toLocaleString('en-US')} held, nothing died` };
}

/**
 * Why no expected heartbeat count applies to the run, or undefined when one does: long-poll streams get no
 * heartbeat, and a server without one (nchan, nginx-idle, cmd:, url:, image:) writes none on any transport.
 */
export function chunksNotApplying(record: RunRecord): string | undefined {
  if (record.plan.transport === 'poll') return 'long-poll streams get no heartbeat chunks: only messages answer a poll';
  if (!(record.target?.supports.heartbeat ?? true)) return `this server sends no heartbeat (${record.target!.name}): no expected chunk count applies`;
  return undefined;
}

export function summaryDocument(s: Summary, record: RunRecord): SummaryV1 {
  const plan = record.plan;
  const v = verdictOf(s, record);
  const notApplying = chunksNotApplying(record);
  const { total: errorsTotal, ...byCause } = s.errors;
  const doc: SummaryV1 = {
    schema: SUMMARY_SCHEMA_ID,
    version: SUMMARY_VERSION,
    run: present({
      startedAt: s.startedAt,
      durationSeconds: s.durationSeconds,
      backend: s.backend,
      target: s.target.name,
      transport: plan.transport,
      engine: plan.server.engine || undefined,
      heartbeatSeconds: plan.server.heartbeatIntervalMs / 1000,
      complete: s.complete,
      incomplete: s.incomplete,
      interrupted: record.outcome?.interrupted ?? false,
      degraded: record.outcome?.degraded?.length ? record.outcome.degraded : undefined,
      verdict: v.verdict,
      verdictText: v.text,
    }),
    connections: present({
      asked: s.n,
      reachedClient: s.reached.client,
      reachedServer: s.reached.server,
      reachedPct: pct(s.reached.client, s.n) ?? 0,
      targetReached: s.targetReached,
      secondsToTarget: s.secondsToTarget,
      rampSeconds: s.rampSeconds,
      rampRate: s.rampRate,
      askedRate: s.askedRate,
      rampEndedBy: s.rampEndedBy as SummaryV1['connections']['rampEndedBy'],
    }),
    target: present({
      name: s.target.name,
      kind: s.target.kind,
      label: s.target.label,
      description: s.target.description,
      supports: { transports: [...s.target.supports.transports], sends: s.target.supports.sends, broadcast: s.target.supports.broadcast, heartbeat: s.target.supports.heartbeat },
      skipped: s.target.skipped.map((x) => ({ phase: x.phase, reason: x.reason })),
      memoryNote: s.target.memoryNote,
    }),
    server: present({
      ...memorySide(s.memory.server),
      kibTotalPerConnection: s.server.kibTotalPerConnection,
      connections: s.server.connections,
      connectionsCountedBy: s.server.connectionsCountedBy,
      reportedConnections: s.server.reportedConnections,
      memoryMeasured: s.server.memoryMeasured,
      kibAboveBasePerConnection: s.server.kibAboveBasePerConnection,
      kernelKibPerConnection: s.server.kernelKibPerConnection,
      userKibPerConnection: s.server.userKibPerConnection,
      cpuMicrosPerConnectionSecond: s.server.cpuMicrosPerConnectionSecond,
      cpuMicrosPerChunk: s.server.cpuMicrosPerChunk,
      cpuResolutionMicros: s.server.cpuResolutionMicros,
    }),
    loadgen: present({ ...memorySide(s.memory.loadgen), kibTotalPerConnection: s.loadgen.kibTotalPerConnection }),
    kernel: present({
      method: 'socket buffers: /proc/net/sockstat TCP mem pages x 4096; slab: /proc/meminfo Slab; both host-wide',
      socketBuffersBytesAtHold: s.kernel.tcpBytesAtHold,
      slabBytesAtHold: s.kernel.slabBytesAtHold,
      slabPerConnectionBytes: s.kernel.slabPerConnectionBytes,
    }),
    chunks: notApplying === undefined
      ? present({
          applies: true,
          holdSeconds: s.chunks.holdSeconds,
          expected: s.chunks.expected,
          received: s.chunks.received,
          deliveredPct: pct(s.chunks.received, s.chunks.expected),
          serverSentTotal: s.chunks.serverSentTotal,
          clientReceivedTotal: s.chunks.clientReceivedTotal,
        })
      : present({
          applies: false,
          note: notApplying,
          holdSeconds: s.chunks.holdSeconds,
          received: s.chunks.received,
          serverSentTotal: s.chunks.serverSentTotal,
          clientReceivedTotal: s.chunks.clientReceivedTotal,
        }),
    errors: { total: errorsTotal, byCause },
    cpu: { seconds: Object.fromEntries(Object.entries(s.cpuSeconds).filter(([, x]) => x >= 0)) },
  };
  if (s.components?.length) doc.components = s.components.map((c) => present({ ...c }));
  if (s.nodes) doc.nodes = s.nodes.map((n) => present({ ...n, loadgens: [...n.loadgens] }));
  if (s.backendEvents?.length) doc.backendEvents = s.backendEvents.map((e) => ({ atMs: e.atMs, what: e.what }));
  if (s.sends) {
    const a = s.sends;
    doc.sends = present({
      askedRate: a.askedRate,
      sustainedRate: a.sustainedRate,
      seconds: a.seconds,
      connections: a.connections,
      requests: a.requests,
      accepted: a.accepted,
      notFound: a.notFound,
      non2xx: a.non2xx,
      errors: a.errors,
      timeouts: a.timeouts,
      messagesReceived: Math.max(0, a.messagesReceived),
      requestP50Ms: a.requestLatencyMs.p50,
      requestP99Ms: a.requestLatencyMs.p99,
      delivery: worst(a.deliveryMs),
    });
  }
  if (s.broadcast) {
    const b = s.broadcast;
    doc.broadcast = present({
      expected: b.expected,
      received: b.received,
      receivedPct: pct(b.received, b.expected) ?? 0,
      complete: b.complete,
      serverDelivered: b.serverDelivered,
      answerLate: b.answerLate,
      fanOutMs: b.fanOutMs,
      delivery: worst(b.deliveryMs),
    });
  }
  return doc;
}

/** After the thresholds are in: a clean run (passed) with a failed threshold is `thresholds-failed`, as exit code 5. */
export function applyThresholdVerdict(doc: SummaryV1): void {
  const failed = (doc.thresholds ?? []).filter((t) => !t.passed);
  if (failed.length === 0 || ['interrupted', 'incomplete'].includes(doc.run.verdict)) return;
  doc.run.verdict = 'thresholds-failed';
  doc.run.verdictText = `thresholds failed: ${failed.map((t) => t.expression).join(', ')}`;
}

/** Every way `doc` breaks summary.json's schema, as `path: message` lines (empty when it conforms). */
export function summaryProblems(doc: unknown): string[] {
  return [...Value.Errors(SummarySchema, doc)].map((e) => `${e.path || '/'}: ${e.message}`);
}

/** Throws when the document breaks its schema: a report must not carry a figure its schema rules out. */
export function assertSummary(doc: unknown): asserts doc is SummaryV1 {
  const problems = summaryProblems(doc);
  if (problems.length) throw new LabError('LAB_ERR_SUMMARY_SCHEMA', `summary.json breaks its schema:\n${problems.slice(0, 20).join('\n')}`);
}
