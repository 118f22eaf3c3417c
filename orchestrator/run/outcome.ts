/**
 * What a run leaves besides its samples: phase times, each phase's result, the components' final counters, and why
 * it stopped early if it did. Written as run.json next to samples.csv; the report is computed from the two.
 */
import type { LatencySummary, LoadgenStatus, PaceReason, ServerStats } from '../../shared/contracts.ts';
import type { ComponentRole, MemoryMethod } from '../backends/backend.ts';

export interface PhaseRecord {
  name: string;
  startMs: number;
  endMs?: number;
}

export interface RampOutcome {
  target: number;
  /** Most connections the load generators held at once during the ramp. */
  reached: number;
  /** Seconds from the first POST /ramp until `reached` was first seen at N (undefined when N was not reached). */
  secondsToTarget?: number;
  /** Seconds the ramp phase lasted. */
  seconds: number;
  endedBy: 'target' | 'all-attempted' | 'stalled' | 'aborted';
  askedRate: number;
  /** How often the load generators were polled (s): `secondsToTarget` is within one poll. */
  pollSeconds?: number;
  /** What the load generators' closed-loop pace did (absent from load generators that do not report one). */
  pace?: RampPace;
}

/** The ramp's pace: asked, settled, why, and one point a second (shared/contracts.ts PaceStatus, summed). */
export interface RampPace {
  /** Connections per second asked of all load generators together. */
  askedPerSecond: number;
  /** The rate the closed loops allowed, summed: median over the second half of the ramp (after slow start). */
  settledPerSecond: number;
  /** The pace reason given most often over that half (PaceReason: asked-rate, slow-connects, connect-timeouts...). */
  reason: PaceReason;
  /** Rate cuts, summed over every load-generator process. */
  decreases: number;
  /** Connects tried again after a timeout, and connects lost to timeouts after their retries (both summed). */
  connectRetries: number;
  connectTimeouts: number;
  /** One point a second: the summed allowed rate, connections held, the reason most processes gave, worst p90. */
  timeline: Array<{ t: number; active: number; currentPerSecond: number; reason: PaceReason; connectP90Ms?: number }>;
}

export interface SendsOutcome {
  askedRate: number;
  /** autocannon's concurrent HTTP connections (--sends-connections). */
  connections?: number;
  seconds: number;
  requests: number;
  /** Sends the server accepted (2xx): delivered to a stream of the id. */
  accepted?: number;
  /** Sends answered 404: no stream held that id (it closed after being sampled). Counted in non2xx too. */
  notFound?: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Load generators that could not list their active ids (GET /active-ids): sends to them went to planned ids. */
  idsFromPlan?: number;
  /** Requests completed per second, as autocannon measured it. */
  sustainedRate: number;
  /** HTTP round trip of POST /send/:id, as autocannon measured it (ms). */
  requestLatencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Delivery latency (send accepted -> message parsed by the client) per load generator, from their histograms. */
  deliveryMs: Record<string, LatencySummary>;
  messagesReceived: number;
}

export interface BroadcastOutcome {
  publishedAtMs: number;
  expected: number; // connections active when published
  serverDelivered?: number; // streams the server says it wrote the message to (absent when its answer was late)
  /** How long POST /broadcast was given to answer (ms; grows with the connections held). */
  answerTimeoutMs?: number;
  /** The server's answer came after answerTimeoutMs; the fan-out figures come from the load generators' counters. */
  answerLate?: boolean;
  received: number; // messages the load generators counted since
  complete: boolean;
  /** Latest arrival minus publish time (ms): how long the fan-out to every connection took. */
  fanOutMs?: number;
  deliveryMs: Record<string, LatencySummary>;
}

export interface ComponentRecord {
  name: string;
  role: ComponentRole;
  url: string;
  method?: MemoryMethod;
  exited?: string;
  /** The host it ran on, where the backend spans several (swarm: the node's host name). */
  node?: string;
}

/** Something that went wrong during a run (a component that died, a phase that failed, a missed target). */
export interface RunError {
  atMs: number;
  component?: string;
  code: string;
  message: string;
}

export interface RunOutcome {
  startedAtMs: number;
  endedAtMs: number;
  phases: PhaseRecord[];
  components: ComponentRecord[];
  ramp?: RampOutcome;
  sends?: SendsOutcome;
  broadcast?: BroadcastOutcome;
  /** The last answers before teardown. */
  final: { server?: ServerStats; loadgens: Record<string, LoadgenStatus> };
  /** How the server's connections were counted: `kernel: sock_diag (ss)`, `kernel: /proc/net/tcp`. */
  serverCount?: string;
  /** Phases asked for that the target cannot do, with why: not run, not failed. */
  skipped?: Array<{ phase: string; reason: string }>;
  /** Set when the run stopped before its end: a component died, a phase failed, or it was interrupted. */
  incomplete?: string;
  /** The run reached its end, but each of these happened on the way (a server worker died, the run stalled). */
  degraded?: string[];
  interrupted: boolean;
  errors: RunError[];
  /** What the backend saw happen around the run (swarm: nodes going down, tasks rescheduled), with times. */
  backendEvents?: Array<{ atMs: number; what: string }>;
  /** The orchestrator's own sampling: how regular it was and what it cost (present once sampling ran). */
  sampling?: SamplingRecord;
}

export interface SamplingRecord {
  /** The nice value the orchestrator ran at while sampling, and why it could not be set if it could not. */
  nice?: number;
  niceError?: string;
  samples: number;
  /** Ticks with no sample taken: MAX_SAMPLES_IN_FLIGHT earlier ones were still waiting for answers. */
  skipped: number;
  /** Seconds between consecutive samples' start (asked: the sample interval). */
  periodSeconds: { p50: number; p99: number; max: number };
  /** Wall time to take one sample (every component's status and probe), ms; and of it, the server's answer, the
   * slowest load generator's answer and the probes' reading (every probe's read started at once, to the last one's
   * answer). */
  sampleMs: { p50: number; p99: number; max: number };
  serverMs: { p50: number; p99: number; max: number };
  loadgenMs: { p50: number; p99: number; max: number };
  probesMs: { p50: number; p99: number; max: number };
  /** Samples with a component's figures absent (it had not answered within the sample's budget). */
  samplesMissingAnswers: number;
  /** Samples whose server answer left out workers (late to its own 2 s round): its counts are absent there. */
  serverPartial: number;
  /** Samples without the server's figures because it was still answering (later than the sample could wait). */
  serverLate: number;
  /** The orchestrator's whole CPU time while it sampled (ramp polls and listeners included), per sample (s). */
  cpuSecondsPerSample: number;
}
