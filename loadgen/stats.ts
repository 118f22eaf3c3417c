/**
 * Counters and the delivery-latency histogram of one process, and the merge a parent does over its children.
 * Latency is recorded in microseconds in an HDR histogram (fixed memory, exact percentiles at any count).
 */
import * as hdr from 'hdr-histogram-js';
import { ERROR_CAUSES, type ErrorCause, type LatencySummary, type LoadgenStatus, type PaceStatus } from '../shared/contracts.ts';
import { mergePaces } from '../shared/pace.ts';

const HIGHEST_US = 3_600_000_000; // an hour: anything slower is clamped, not lost

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

export function zeroErrors(): Record<ErrorCause, number> {
  const errors = {} as Record<ErrorCause, number>;
  for (const cause of ERROR_CAUSES) errors[cause] = 0;
  return errors;
}

/** Percentiles in milliseconds (microsecond resolution). */
export function summarize(h: hdr.Histogram): LatencySummary {
  const count = h.totalCount;
  if (count === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  // A percentile is its bucket's highest equivalent value, which can pass the exact maximum: cap it there.
  const max = h.maxValue;
  const at = (p: number) => Math.min(max, h.getValueAtPercentile(p)) / 1000;
  return { count, p50: at(50), p90: at(90), p99: at(99), max: max / 1000 };
}

/** What one process counts. The pool owns one; gauges (active, connecting) come from the pool itself. */
export class LoadgenCounters {
  closed = 0;
  chunks = 0;
  messages = 0;
  resets = 0;
  opened = 0; // connections that became active (reconnections included)
  lastMessageAtMs = 0;
  readonly errors = zeroErrors();
  /** Protocol problems by their detail (bad-chunk-size, bad-status-line, ...): the `protocol` cause broken down. */
  readonly protocolProblems: Record<string, number> = {};
  /** Non-2xx answers by status code: the `http_status` cause broken down. */
  readonly httpStatuses: Record<string, number> = {};
  /** WebSocket close frames from the server by code: `ws_close` (and the clean 1000/1001 ends) broken down. */
  readonly wsCloseCodes: Record<string, number> = {};
  latency = newLatencyHistogram();

  /** A unit arrived at `nowMs`; `sentAtMs` is NaN when it carried no send timestamp. */
  unit(sentAtMs: number, nowMs: number): void {
    this.chunks++;
    if (Number.isNaN(sentAtMs)) return;
    this.messages++;
    this.lastMessageAtMs = nowMs;
    const us = Math.round((nowMs - sentAtMs) * 1000);
    this.latency.recordValue(Math.min(HIGHEST_US, Math.max(0, us)));
  }

  error(cause: ErrorCause): void {
    this.errors[cause]++;
  }

  resetLatency(): void {
    this.latency = newLatencyHistogram();
    this.lastMessageAtMs = 0;
  }
}

/** A child's status as sent to its parent: the JSON status plus its histogram, encoded. */
export interface StatusWithHistogram {
  status: LoadgenStatus;
  histogram: string; // hdr compressed base64
}

export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/**
 * Encodes a histogram only when it changed since the last call (a child answers its parent's status request, five
 * times a second during a ramp, with no new message since the last one: nothing to re-encode).
 */
export class HistogramEncoder {
  private last: hdr.Histogram | undefined;
  private count = -1;
  private text = '';

  encode(h: hdr.Histogram): string {
    if (h !== this.last || h.totalCount !== this.count) {
      this.text = encodeHistogram(h);
      this.last = h;
      this.count = h.totalCount;
    }
    return this.text;
  }
}

/** A status with every count at zero: a child not heard from yet, or the start of a merge. */
export function zeroStatus(procs: number, rampDone: boolean, uptimeSeconds: number): LoadgenStatus {
  return {
    target: 0,
    connecting: 0,
    active: 0,
    closed: 0,
    chunks: 0,
    messages: 0,
    resets: 0,
    errors: zeroErrors(),
    latencyMs: { count: 0, p50: 0, p90: 0, p99: 0, max: 0 },
    lastMessageAtMs: 0,
    procs,
    rampDone,
    uptimeSeconds,
  };
}

/** Sums children's statuses into one: counters add, latency percentiles come from the merged histogram. */
export function mergeStatuses(parts: StatusWithHistogram[], uptimeSeconds: number): LoadgenStatus {
  const merged = newLatencyHistogram();
  const out = zeroStatus(0, parts.length > 0, uptimeSeconds);
  const extra = out as unknown as Record<string, unknown>;
  const opened = { n: 0 };
  const problems: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  const paces: Array<PaceStatus | undefined> = [];
  const closeCodes: Record<string, number> = {};
  for (const { status, histogram } of parts) {
    out.target += status.target;
    out.connecting += status.connecting;
    out.active += status.active;
    out.closed += status.closed;
    out.chunks += status.chunks;
    out.messages += status.messages;
    out.resets += status.resets ?? 0;
    out.procs += status.procs;
    out.rampDone &&= status.rampDone;
    out.lastMessageAtMs = Math.max(out.lastMessageAtMs, status.lastMessageAtMs);
    if (status.connectRetries !== undefined) out.connectRetries = (out.connectRetries ?? 0) + status.connectRetries;
    if (status.retryWaiting !== undefined) out.retryWaiting = (out.retryWaiting ?? 0) + status.retryWaiting;
    out.io ??= status.io;
    paces.push(status.pace);
    for (const cause of ERROR_CAUSES) out.errors[cause] += status.errors[cause] ?? 0;
    const s = status as unknown as Record<string, unknown>;
    opened.n += (s.opened as number) ?? 0;
    addInto(problems, s.protocolProblems as Record<string, number> | undefined);
    addInto(statuses, s.httpStatuses as Record<string, number> | undefined);
    addInto(closeCodes, status.wsCloseCodes);
    const h = hdr.decodeFromCompressedBase64(histogram);
    merged.add(h);
  }
  out.latencyMs = summarize(merged);
  const pace = mergePaces(paces);
  if (pace) out.pace = pace;
  extra.opened = opened.n;
  extra.protocolProblems = problems;
  extra.httpStatuses = statuses;
  const transport = parts.find((p) => p.status.transport !== undefined)?.status.transport;
  if (transport !== undefined) out.transport = transport;
  if (parts.some((p) => p.status.wsCloseCodes !== undefined)) out.wsCloseCodes = closeCodes;
  return out;
}

function addInto(into: Record<string, number>, from: Record<string, number> | undefined): void {
  if (!from) return;
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
