/**
 * summary.json's schema, version 1: the one source of truth. It is a JSON Schema (TypeBox builds it, so the
 * TypeScript type `SummaryV1` comes from the same definition and cannot drift from it); `summary.schema.json` next
 * to this file is this schema as JSON for other tools (regenerate: `node orchestrator/report/summary-schema.ts >
 * orchestrator/report/summary.schema.json`; summary-schema.test.ts fails while they differ). Every number is
 * finite and non-negative; a figure that was not measured, or would mean nothing, is absent: never 0, -1 or a
 * placeholder. Objects are closed (no field the schema does not list), so a field added to summary.json is added
 * here, documented, first. Thresholds (`--threshold 'server.kibPerConnection<6'`) name fields by their dotted path.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const N = (description: string, extra: object = {}) => Type.Number({ minimum: 0, description, ...extra });
const I = (description: string) => Type.Integer({ minimum: 0, description });
const S = (description: string) => Type.String({ description });
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);
const Obj = <P extends Parameters<typeof Type.Object>[0]>(description: string, props: P) => Type.Object(props, { description, additionalProperties: false });
const Lit = <T extends string>(values: readonly T[], description: string) => Type.Union(values.map((v) => Type.Literal(v)), { description });

export const SUMMARY_SCHEMA_ID = 'comet-lab/summary';
export const SUMMARY_VERSION = 1;

export const VERDICTS = ['passed', 'target-missed', 'incomplete', 'interrupted', 'degraded', 'thresholds-failed'] as const;
export type Verdict = (typeof VERDICTS)[number];

const Latency = Obj('Delivery latency percentiles, milliseconds.', {
  p50Ms: N('median'),
  p99Ms: N('99th percentile'),
  count: I('messages in the histogram'),
  from: S('whose histogram: "worst load generator" (the one with the highest p99; percentiles of different histograms do not add up)'),
});

const MemorySide = (who: string) =>
  Obj(`Memory of ${who}.`, {
    components: Type.Array(Type.String(), { description: 'components summed into these figures' }),
    method: S('memory probe: cgroup-v1, cgroup-v2, docker-stats or proc-rss (working set = usage - inactive file cache, as docker stats)'),
    countedBy: Lit(['server', 'client'], "whose connection count divides: the server's /stats, or the load generators' active count"),
    kibPerConnection: Opt(N('THE figure to read: perConnectionBytes / 1024')),
    perConnectionBytes: Opt(N('the headline bytes per connection, computed as perConnectionMethod says')),
    perConnectionMethod: Opt(Lit(['ramp-slope', 'growth-over-base', 'total-over-n'], 'ramp-slope when fit.reliable, else growth over the base at the hold, else total/N at the hold')),
    perConnectionHow: Opt(S('one sentence: how the headline was computed and, for a fallback, why')),
    fit: Opt(Obj('Least-squares line of memory against connections over the ramp (the base left out).', {
      reliable: Type.Boolean({ description: 'R² >= 0.9 and a positive slope: only then is the slope the headline' }),
      r2: N('coefficient of determination', { maximum: 1 }),
      points: I('samples in the fit'),
      phases: S('phases the samples came from'),
      slopeBytes: Opt(N('bytes per connection (absent when the slope is not positive)')),
      interceptBytes: Opt(N('bytes at 0 connections (absent when negative)')),
    })),
    baseBytes: Opt(N('first sample of the run, no connection held')),
    holdBytes: Opt(N('mean over the hold')),
    holdConnections: Opt(N('mean connections over the hold')),
    totalPerConnectionBytes: Opt(N('holdBytes / holdConnections (base included)')),
    growthPerConnectionBytes: Opt(N('(holdBytes - baseBytes) / holdConnections; absent when negative')),
    kernelBytesAtHold: Opt(N('kernel memory charged to the group (slab: sockets, epoll, files), already inside holdBytes')),
    kernelPerConnectionBytes: Opt(N('growth of that kernel memory per connection; absent when negative')),
    socketBuffersBytes: Opt(N('socket buffers charged to the group at the hold, where the probe sees them (never on cgroup v1 here)')),
    kibTotalPerConnection: Opt(N('totalPerConnectionBytes / 1024 (base included)')),
    // The server under test only (any target, comet-lab included):
    connections: Opt(I('server side: most established connections on its port at once, as counted by connectionsCountedBy')),
    connectionsCountedBy: Opt(S('server side: kernel: sock_diag (ss), kernel: /proc/net/tcp, or the server\'s /stats (runs before targets)')),
    reportedConnections: Opt(I("server side: comet-lab's own /stats count at its most, the cross-check (absent for other servers)")),
    memoryMeasured: Opt(Type.Boolean({ description: 'server side: false when nothing measured its memory (url: without --server-pid or --server-container)' })),
    kibAboveBasePerConnection: Opt(N('server side: growthPerConnectionBytes / 1024')),
    kernelKibPerConnection: Opt(N('server side: kernelPerConnectionBytes / 1024 (socket, epoll, file slabs charged to it)')),
    userKibPerConnection: Opt(N('server side: kibAboveBasePerConnection - kernelKibPerConnection')),
    cpuMicrosPerConnectionSecond: Opt(N('server side: user + system CPU over the hold, µs per held connection per second')),
    cpuMicrosPerChunk: Opt(N('server side: the same CPU per heartbeat chunk received (servers that send heartbeats only)')),
    cpuResolutionMicros: Opt(N("server side: one clock tick (10 ms, /proc's CPU unit) per held connection per second: a CPU figure below it reads 0")),
  });

const ErrorCounts = Type.Record(Type.String(), I('count'), { description: 'by cause: refused, reset, timeout, addrnotavail, emfile, protocol, http_status, other' });

export const SummarySchema = Type.Object(
  {
    schema: Type.Literal(SUMMARY_SCHEMA_ID),
    version: Type.Literal(SUMMARY_VERSION),
    run: Obj('What ran and how it ended.', {
      startedAt: Type.String({ format: 'date-time', description: 'UTC start' }),
      durationSeconds: N('start to the end of teardown'),
      backend: S('local or docker'),
      target: S('the server under test (comet-lab: the lab\'s own server); more in `target`'),
      transport: S('chunked, sse, poll'),
      engine: Opt(S('server engine, where chosen')),
      heartbeatSeconds: N('server heartbeat interval'),
      complete: Type.Boolean({ description: 'nothing died and nothing stopped it early' }),
      incomplete: Opt(S('why it stopped early')),
      interrupted: Type.Boolean({ description: 'stopped by Ctrl-C / SIGTERM' }),
      degraded: Opt(Type.Array(Type.String(), { description: 'why a run that reached its end is degraded (a server worker died, the run stalled, ...)' })),
      verdict: Lit(VERDICTS, 'passed: complete, N held, every threshold passed'),
      verdictText: S('the verdict in words, with its cause'),
    }),
    connections: Obj('The ramp.', {
      asked: I('N'),
      reachedClient: I("most active connections at once, load generators' count"),
      reachedServer: I("most open streams at once, the server's /stats"),
      reachedPct: N('reachedClient / asked x 100'),
      targetReached: Type.Boolean(),
      secondsToTarget: Opt(N('first POST /ramp to N active (polled every 0.2 s)')),
      rampSeconds: Opt(N('length of the ramp phase')),
      rampRate: Opt(N('connections per second achieved: reached / time to reach')),
      askedRate: N('connections per second asked'),
      rampEndedBy: Opt(Lit(['target', 'all-attempted', 'stalled', 'aborted'], 'why the ramp ended')),
    }),
    target: Obj('The server under test: what it is, what it supports, what the run skipped for it.', {
      name: S('as given to --target'),
      kind: S('comet-lab, nchan, nginx-idle, mochiweb, cmd, image or url'),
      label: S('short name for tables'),
      description: S('one sentence'),
      supports: Obj('What the target can do.', {
        transports: Type.Array(Type.String()),
        sends: Type.Boolean(),
        broadcast: Type.Boolean(),
        heartbeat: Type.Boolean({ description: 'it writes a chunk on every stream each interval' }),
      }),
      skipped: Type.Array(Obj('A phase the target cannot do, skipped.', { phase: S('phase'), reason: S('why') })),
      memoryNote: Opt(S('what the memory figure leaves out, when not the whole server')),
    }),
    server: MemorySide('the server'),
    loadgen: MemorySide('all load generators together'),
    kernel: Obj('Host-wide kernel memory (both ends of every loopback connection; other sockets of the host too).', {
      method: S('where the figures come from'),
      socketBuffersBytesAtHold: Opt(N('/proc/net/sockstat TCP mem, mean over the hold')),
      slabBytesAtHold: Opt(N('/proc/meminfo Slab, mean over the hold')),
      slabPerConnectionBytes: Opt(N('slab growth per connection held; absent when negative')),
    }),
    chunks: Obj('Heartbeat chunks over the hold.', {
      applies: Type.Boolean({ description: 'false for long-poll (its streams get no heartbeat chunks) and for a server that sends no heartbeat' }),
      note: Opt(S('why it does not apply')),
      holdSeconds: Opt(N('first to last sample of the hold')),
      expected: Opt(I('mean active x seconds / heartbeat')),
      received: Opt(I("load generators' chunk counter over the same samples")),
      deliveredPct: Opt(N('received / expected x 100')),
      serverSentTotal: Opt(I('whole run, server /stats')),
      clientReceivedTotal: Opt(I('whole run, load generators (includes one welcome chunk per connection)')),
    }),
    errors: Obj('Connection errors, summed over the load generators\' final /status.', {
      total: I('all causes'),
      byCause: ErrorCounts,
    }),
    sends: Opt(Obj('Routed sends (autocannon, POST /send/:id to active ids).', {
      askedRate: N('per second'),
      sustainedRate: N('2xx per second'),
      seconds: N('phase length'),
      connections: Opt(I("autocannon's HTTP connections")),
      requests: I('sent'),
      accepted: Opt(I('2xx')),
      notFound: Opt(I('404: the id had closed')),
      non2xx: I('all non-2xx'),
      errors: I('transport errors'),
      timeouts: I('timed out'),
      messagesReceived: I('messages the load generators parsed'),
      requestP50Ms: N('HTTP round trip, median'),
      requestP99Ms: N('HTTP round trip, 99th percentile'),
      delivery: Opt(Latency),
    })),
    broadcast: Opt(Obj('One broadcast to every connection.', {
      expected: I('connections active at publish'),
      received: I('messages counted by the load generators'),
      receivedPct: N('received / expected x 100'),
      complete: Type.Boolean({ description: 'every connection got it' }),
      serverDelivered: Opt(I('streams the server wrote it to')),
      answerLate: Opt(Type.Boolean({ description: "the server's answer came after its time limit" })),
      fanOutMs: Opt(N('latest arrival - publish time')),
      delivery: Opt(Latency),
    })),
    components: Opt(Type.Array(Obj('One component: where it ran and its memory over the hold.', {
      name: S('server, loadgen-1, ...'),
      role: S('server or loadgen'),
      node: Opt(S('the host it ran on (swarm node), where the backend says')),
      method: Opt(S('memory probe')),
      holdBytes: Opt(N('mean working set over the hold')),
      crossCheckHoldBytes: Opt(N("the same container read another way over the same samples (swarm: the node engine's stats)")),
    }), { description: 'Memory per component; on several hosts, which node each ran on.' })),
    nodes: Opt(Type.Array(Obj('One host of a multi-host run (swarm).', {
      node: S('node name'),
      server: Type.Boolean({ description: 'the server ran here' }),
      loadgens: Type.Array(Type.String(), { description: 'load generators that ran here' }),
      holdBytes: Opt(N('memory of its components over the hold, summed')),
      crossCheckHoldBytes: Opt(N("the node engine's own figure for the same, summed")),
    }), { description: 'Memory per node (swarm backend only).' })),
    backendEvents: Opt(Type.Array(Obj('Something the backend saw happen (swarm: a node going down, a task rescheduled).', {
      atMs: N('epoch ms'),
      what: S('what happened'),
    }))),
    cpu: Obj('CPU per component.', {
      seconds: Type.Record(Type.String(), N('user + system seconds over the run')),
    }),
    thresholds: Opt(Type.Array(Obj('A --threshold and its result.', {
      expression: S('as given'),
      field: S('dotted path into this document'),
      op: Lit(['<', '<=', '>', '>=', '==', '!='], 'comparison'),
      limit: Type.Number({ description: 'the number compared with' }),
      actual: Opt(Type.Number({ description: 'the field\'s value (absent: not measured, which fails)' })),
      passed: Type.Boolean(),
      note: Opt(S('why it failed when there was no number to compare')),
    }), { description: 'Pass/fail thresholds, evaluated at the end.' })),
  },
  { $id: SUMMARY_SCHEMA_ID, title: 'comet-lab summary.json', additionalProperties: false },
);

export type SummaryV1 = Static<typeof SummarySchema>;

if (import.meta.main) process.stdout.write(`${JSON.stringify(SummarySchema, null, 2)}\n`);
