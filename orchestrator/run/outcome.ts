/**
 * What a run leaves besides its samples: phase times, each phase's result, the components' final counters, and why
 * it stopped early if it did. Written as run.json next to samples.csv; the report is computed from the two.
 */
import type { LatencySummary, LoadgenStatus, ServerStats } from '../../shared/contracts.ts';
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
  /** Set when the run stopped before its end: a component died, a phase failed, or it was interrupted. */
  incomplete?: string;
  /** The run reached its end, but each of these happened on the way (a server worker died, the run stalled). */
  degraded?: string[];
  interrupted: boolean;
  errors: Array<{ atMs: number; component?: string; code: string; message: string }>;
  /** What the backend saw happen around the run (swarm: nodes going down, tasks rescheduled), with times. */
  backendEvents?: Array<{ atMs: number; what: string }>;
}
