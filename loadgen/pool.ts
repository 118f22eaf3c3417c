/**
 * The connection pool of one process: opens up to `capacity` connections at a paced rate, holds them, and counts
 * what arrives. Per connection it keeps a connection in its io (a raw libuv handle, or a net.Socket: io/) and a few
 * typed-array slots (state, retries, a time); parsing state lives in the parser's and transport's typed arrays;
 * every read lands in one shared buffer. No closure, stream or timer per connection: connect timeouts, retries
 * and reconnect backoffs are swept by one timer.
 *
 * The pace is closed-loop by default (pace-controller.ts): the rate follows what the server accepts, a connect that
 * timed out is retried (--connect-retries), and timeouts run on a clock that stops while this process could not
 * run, so a connect is never given up because the load generator itself was starved.
 */
import { EventEmitter } from 'node:events';
import type { ErrorCause, LoadgenStatus } from '../shared/contracts.ts';
import { nowMs } from '../shared/clock.ts';
import { errnoName as errName, type ClientIo, type IoListener, type IoName } from './io/client-io.ts';
import type { IoFactory } from './io/choose-io.ts';
import { PaceController, REVISE_MS, type PaceLimit } from './pace-controller.ts';
import { HttpResponseParser } from './parsers/http-response-parser.ts';
import { PortAllocator } from './port-allocator.ts';
import { HistogramEncoder, LoadgenCounters, summarize, type StatusWithHistogram } from './stats.ts';
import type { TargetSet } from './targets.ts';
import type { TransportCodec, TransportSink, UnitListener } from './transports/transport.ts';

export interface PoolOptions {
  targets: TargetSet;
  /** Global index of slot 0 (`--start` plus this process's offset). */
  firstIndex: number;
  capacity: number;
  transport: TransportCodec;
  /** Source addresses to bind (round-robin by slot); empty: let the kernel choose. */
  sourceAddresses: string[];
  /** Local ports to walk per source address. */
  portRange: [number, number];
  maxConnecting: number;
  connectTimeoutMs: number;
  reconnect: boolean;
  /** A response that ended leaves its connection open, active and idle (keep-alive), instead of closing it. */
  keepOpen?: boolean;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** raw handles or net.Socket (io/choose-io.ts); `ioName` says which. */
  io: IoFactory;
  ioName: IoName;
  /** Closed-loop pacing (default) or the asked rate as given. */
  closedLoop: boolean;
  /** Connect latency (to the response head) above which a closed-loop pace backs off. */
  paceLatencyMs: number;
  /** Times a connect that timed out is tried again before it counts as a `timeout` error. */
  connectRetries: number;
}

/** A random sample of active connection indices (`GET /active-ids`). */
export interface ActiveSample {
  active: number;
  ids: number[];
}

const S_IDLE = 0;
const S_CONNECTING = 1; // TCP connect pending
const S_WAITING = 2; // connected and asked; response head not yet read
const S_ACTIVE = 3;
const S_CLOSED = 4; // was active, ended; no reconnect
const S_FAILED = 5; // never became active; no reconnect
const S_BACKOFF = 6; // waiting to reconnect
const S_STOPPED = 7; // closed by us (ramp down, stop)
const S_RETRY = 8; // its connect timed out; queued to be tried again (paced like a new one)

const PORT_TRIES = 255; // ports skipped (4-tuple taken: held, or TIME_WAIT off loopback) before a connect counts as EADDRNOTAVAIL
const TICK_MS = 10;
const SWEEP_MS = 100;
/** A sweep later than this (the process did not run) stops the timeout clock for the excess. */
const LAG_GRACE_MS = 50;
/** Pacing tokens saved up at most: a tenth of a second's worth (no burst after a stall). */
const BURST_SECONDS = 0.1;

/** Maps a libuv errno name to the cause it is counted under. */
export function causeOf(name: string): ErrorCause {
  switch (name) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EADDRNOTAVAIL':
    case 'EADDRINUSE':
      return 'addrnotavail';
    case 'EMFILE':
    case 'ENFILE':
      return 'emfile';
    default:
      return 'other';
  }
}

/** Events: `error` never (failures are counted); `idle` when stopped. */
export class ConnectionPool extends EventEmitter implements UnitListener, IoListener {
  readonly counters = new LoadgenCounters();
  private readonly encoder = new HistogramEncoder();
  private readonly o: PoolOptions;
  private readonly io: ClientIo;
  private readonly state: Uint8Array;
  private readonly retries: Uint8Array; // reconnect attempts since last active (backoff exponent)
  private readonly connectTries: Uint8Array; // connect timeouts retried since the slot was last active or left a backoff
  private readonly portTries: Uint8Array; // ports skipped for the current connect (4-tuple taken)
  private readonly time: Float64Array; // connect start, or when a backoff ends (on the pool's clock, `clock()`)
  private readonly parser: HttpResponseParser;
  private readonly sink: TransportSink;
  private readonly ports: PortAllocator | undefined;
  private readonly pace: PaceController;
  private readonly startedAt = nowMs();
  private target = 0;
  private nextSlot = 0;
  private connecting = 0;
  private active = 0;
  private inBackoff = 0;
  /** Slots whose timed-out connect waits to be tried again (FIFO from retryHead). */
  private retryQueue: number[] = [];
  private retryHead = 0;
  private retryWaiting = 0;
  private retried = 0;
  private tokens = 1;
  private refilledAt = nowMs();
  private limit: PaceLimit = 'none';
  /** Time this process could not run (late sweeps), kept off the timeout clock. */
  private lagMs = 0;
  private lastSweepAt = nowMs();
  private revisedAt = nowMs();
  private tick: NodeJS.Timeout | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Recent connect completions per second (the last full second), for the status extras. */
  private connectsThisSecond = 0;
  private connectsLastSecond = 0;
  private secondStartedAt = nowMs();

  constructor(options: PoolOptions) {
    super();
    this.o = options;
    const n = options.capacity;
    this.state = new Uint8Array(n);
    this.retries = new Uint8Array(n);
    this.connectTries = new Uint8Array(n);
    this.portTries = new Uint8Array(n);
    this.time = new Float64Array(n);
    this.sink = options.transport.createSink(n, this);
    this.parser = new HttpResponseParser(n, this.sink);
    this.io = options.io(n, this);
    this.pace = new PaceController({ closedLoop: options.closedLoop, latencyTargetMs: options.paceLatencyMs });
    if (options.sourceAddresses.length > 0) {
      this.ports = new PortAllocator(options.sourceAddresses.length, options.portRange[0], options.portRange[1]);
    }
    this.sweep = setInterval(() => this.sweepSlots(), SWEEP_MS);
  }

  /**
   * Sets the number of connections to hold (capped at capacity) and the pace asked (connections/s; 0: no pacing).
   * A closed-loop pace starts below it and climbs while the server keeps up (pace-controller.ts).
   */
  ramp(target: number, rate: number): void {
    if (this.stopped) return;
    this.target = Math.max(0, Math.min(this.o.capacity, Math.floor(target)));
    this.pace.start(rate);
    this.tokens = 1;
    this.refilledAt = nowMs();
    while (this.nextSlot > this.target) this.retire(--this.nextSlot);
    this.startTicking();
  }

  private startTicking(): void {
    if (this.tick === undefined && (this.nextSlot < this.target || this.retryWaiting > 0)) {
      this.tick = setInterval(() => this.openSome(), TICK_MS);
      this.openSome();
    }
  }

  /** The pool's clock (ms): wall time minus the time this process could not run. Connect timeouts run on it. */
  private clock(now = nowMs()): number {
    return now - this.lagMs;
  }

  resetLatency(): void {
    this.counters.resetLatency();
  }

  status(): LoadgenStatus {
    const c = this.counters;
    const now = nowMs();
    if (now - this.secondStartedAt >= 1000) this.rollSecond(now);
    const status: LoadgenStatus & Record<string, unknown> = {
      target: this.target,
      connecting: this.connecting,
      active: this.active,
      closed: c.closed,
      chunks: c.chunks,
      messages: c.messages,
      resets: c.resets,
      errors: { ...c.errors },
      latencyMs: summarize(c.latency),
      lastMessageAtMs: c.lastMessageAtMs,
      procs: 1,
      rampDone: this.nextSlot >= this.target && this.retryWaiting === 0,
      uptimeSeconds: (now - this.startedAt) / 1000,
      transport: this.o.transport.name,
      ...(this.o.transport.name === 'ws' ? { wsCloseCodes: { ...c.wsCloseCodes } } : {}),
      opened: c.opened,
      reconnecting: this.inBackoff,
      connectsPerSecond: this.connectsLastSecond,
      pace: this.pace.status(),
      connectRetries: this.retried,
      retryWaiting: this.retryWaiting,
      io: this.o.ioName,
      protocolProblems: { ...c.protocolProblems },
      httpStatuses: { ...c.httpStatuses },
    };
    return status;
  }

  statusWithHistogram(): StatusWithHistogram {
    return { status: this.status(), histogram: this.encoder.encode(this.counters.latency) };
  }

  /**
   * Up to `n` distinct global indices of active connections, chosen uniformly at random (reservoir sampling over the
   * slots), and how many are active: who a routed send can reach right now. One pass over the slots' states.
   */
  sampleActive(n: number): ActiveSample {
    const ids: number[] = [];
    const want = Math.max(0, Math.floor(n));
    let seen = 0;
    const end = Math.min(this.nextSlot, this.o.capacity);
    for (let slot = 0; slot < end && want > 0; slot++) {
      if (this.state[slot] !== S_ACTIVE) continue;
      seen++;
      if (ids.length < want) ids.push(this.o.firstIndex + slot);
      else {
        const k = Math.floor(Math.random() * seen);
        if (k < want) ids[k] = this.o.firstIndex + slot;
      }
    }
    return { active: this.active, ids };
  }

  /** Closes every connection and stops opening; safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.tick);
    clearInterval(this.sweep);
    this.tick = this.sweep = undefined;
    for (let slot = 0; slot < this.o.capacity; slot++) this.retire(slot);
  }

  // ---- opening ----

  /** Adds the pacing tokens earned since the last call (at the controller's current rate, capped: no burst). */
  private refill(now: number): void {
    const rate = this.pace.rate;
    if (rate > 0) this.tokens = Math.min(Math.max(1, rate * BURST_SECONDS), this.tokens + (rate * (now - this.refilledAt)) / 1000);
    this.refilledAt = now;
  }

  /** May one more connect start now? Notes what held it back, for the controller. */
  private mayOpen(): boolean {
    if (this.connecting >= this.o.maxConnecting) {
      this.limit = 'cap';
      return false;
    }
    if (this.pace.rate > 0) {
      if (this.tokens < 1) {
        if (this.limit === 'none') this.limit = 'rate';
        return false;
      }
      this.tokens--;
    }
    return true;
  }

  private openSome(): void {
    if (this.stopped) return;
    this.refill(nowMs());
    // Retries first: they were asked for earlier.
    while (this.retryHead < this.retryQueue.length) {
      const slot = this.retryQueue[this.retryHead]!;
      if (this.state[slot] !== S_RETRY) {
        this.retryHead++; // ramped down or stopped meanwhile
        continue;
      }
      if (!this.mayOpen()) return;
      this.retryHead++;
      this.setState(slot, S_IDLE);
      this.open(slot);
    }
    if (this.retryHead > 0) {
      this.retryQueue = this.retryQueue.slice(this.retryHead);
      this.retryHead = 0;
    }
    while (this.nextSlot < this.target && this.mayOpen()) this.open(this.nextSlot++);
    if (this.nextSlot >= this.target && this.retryWaiting === 0) {
      clearInterval(this.tick);
      this.tick = undefined;
    }
  }

  private open(slot: number): void {
    const t = this.o.targets.at(this.o.firstIndex + slot);
    const sources = this.o.sourceAddresses;
    let err = 0;
    for (;;) {
      let local: string | undefined;
      let localPort = 0;
      if (this.ports !== undefined) {
        const a = slot % sources.length;
        local = sources[a];
        localPort = this.ports.take(a);
      }
      err = this.io.connect(slot, t.address, t.port, local, localPort);
      if (err === 0) {
        this.setState(slot, S_CONNECTING);
        this.time[slot] = this.clock();
        return;
      }
      // A chosen port whose 4-tuple is taken (a held or TIME_WAIT connection): try the next port.
      if (this.nextPort(slot, local, err)) continue;
      break;
    }
    this.portTries[slot] = 0;
    this.failed(slot, causeOf(errName(err)));
  }

  /** Whether a bind/connect failure means "this local port's 4-tuple is taken" and another port may be tried. */
  private nextPort(slot: number, local: string | undefined, err: number): boolean {
    const name = errName(err);
    if (local === undefined || (name !== 'EADDRNOTAVAIL' && name !== 'EADDRINUSE') || this.portTries[slot]! >= PORT_TRIES) return false;
    this.portTries[slot]!++;
    return true;
  }

  onConnected(slot: number, status: number): void {
    if (this.state[slot] !== S_CONNECTING) return; // retired while connecting
    if (status !== 0) {
      // net reports a taken 4-tuple here, a tick after connect(): walk on to the next port as raw does at once.
      if (this.nextPort(slot, this.ports === undefined ? undefined : '', status)) {
        this.setState(slot, S_IDLE);
        this.open(slot);
        return;
      }
      this.connectsThisSecond++;
      this.portTries[slot] = 0;
      this.io.close(slot);
      this.failed(slot, causeOf(errName(status)));
      return;
    }
    this.connectsThisSecond++;
    this.portTries[slot] = 0;
    this.parser.reset(slot);
    this.sink.clear(slot);
    const t = this.o.targets.at(this.o.firstIndex + slot);
    let err = this.io.startReading(slot);
    if (err === 0) err = this.io.write(slot, this.o.transport.request(t.path, t.host, this.sink.extraHeaders(slot)));
    if (err !== 0) {
      this.drop(slot);
      this.failed(slot, causeOf(errName(err)));
      return;
    }
    if (this.o.transport.activeOnConnect) this.becomeActive(slot);
    else this.setState(slot, S_WAITING);
  }

  // ---- reading (IoListener; UnitListener: called by the transport sink while parsing) ----

  onData(slot: number, buf: Buffer, len: number, offset = 0): void {
    if (this.parser.feed(slot, buf, offset, offset + len)) return;
    const problem = this.parser.problem;
    if (problem === undefined) return; // the sink paused: it already ended the slot (a refusal, a close frame)
    const c = this.counters;
    c.protocolProblems[problem] = (c.protocolProblems[problem] ?? 0) + 1;
    this.endSlot(slot, 'protocol');
  }

  onEnd(slot: number, err: number): void {
    if (!this.isOpen(slot)) return;
    if (err === 0) {
      this.parser.end(slot); // a close-delimited body ends here (the sink may end the slot itself)
      if (!this.isOpen(slot)) return;
    }
    this.endSlot(slot, err === 0 ? undefined : causeOf(errName(err)));
  }

  private isOpen(slot: number): boolean {
    const st = this.state[slot];
    return st === S_CONNECTING || st === S_WAITING || st === S_ACTIVE;
  }

  onOpen(slot: number): void {
    if (this.state[slot] === S_WAITING) this.becomeActive(slot);
  }

  onRefused(slot: number, cause: 'http_status' | 'handshake', status: number): void {
    if (cause === 'http_status') {
      const c = this.counters;
      c.httpStatuses[status] = (c.httpStatuses[status] ?? 0) + 1;
    }
    this.endSlot(slot, cause);
  }

  onWsClose(slot: number, code: number): void {
    const c = this.counters;
    c.wsCloseCodes[code] = (c.wsCloseCodes[code] ?? 0) + 1;
    // the server's going away (1001, a shutdown) or a normal close is a clean end, as a terminating chunk is
    this.endSlot(slot, code === 1000 || code === 1001 ? undefined : 'ws_close');
  }

  write(slot: number, bytes: Uint8Array): boolean {
    return this.isOpen(slot) && this.io.write(slot, bytes) === 0;
  }

  onReset(): void {
    this.counters.resets++;
  }

  onUnit(_slot: number, sentAtMs: number): void {
    this.counters.unit(sentAtMs, Number.isNaN(sentAtMs) ? 0 : nowMs());
  }

  onResponseEnd(slot: number): void {
    if (this.o.transport.activeOnConnect) {
      // Long-poll: ask again on the same connection.
      const t = this.o.targets.at(this.o.firstIndex + slot);
      if (this.isOpen(slot) && this.io.write(slot, this.o.transport.request(t.path, t.host, this.sink.extraHeaders(slot))) !== 0) this.endSlot(slot, 'reset');
      return;
    }
    // Keep-alive: the answer is done and the connection stays, idle, as a browser's would between requests.
    if (this.o.keepOpen) return;
    // A stream the server ended cleanly: close our side too.
    this.endSlot(slot, undefined);
  }

  // ---- ending ----

  private becomeActive(slot: number): void {
    this.pace.connected(this.time[slot]!, this.clock());
    this.setState(slot, S_ACTIVE);
    this.retries[slot] = 0;
    this.connectTries[slot] = 0;
    this.counters.opened++;
  }

  /** A connect (or its response head) took longer than --connect-timeout: try again, or count it as lost. */
  private timedOut(slot: number): void {
    this.pace.timedOut(this.time[slot]!);
    if (this.connectTries[slot]! < this.o.connectRetries && !this.stopped && slot < this.target) {
      this.drop(slot);
      this.connectTries[slot]!++;
      this.retried++;
      this.setState(slot, S_RETRY);
      this.retryQueue.push(slot);
      this.startTicking();
      return;
    }
    this.endSlot(slot, 'timeout');
  }

  /** A connection ended; `cause` is undefined for a clean end (EOF, server ended the stream). */
  private endSlot(slot: number, cause: ErrorCause | undefined): void {
    const wasActive = this.state[slot] === S_ACTIVE;
    this.drop(slot);
    if (wasActive) {
      this.counters.closed++;
      if (cause !== undefined) this.counters.error(cause);
      this.afterEnd(slot, S_CLOSED);
    } else {
      this.failed(slot, cause ?? 'reset'); // closed before answering: the server hung up on us
    }
  }

  private failed(slot: number, cause: ErrorCause): void {
    this.counters.error(cause);
    this.afterEnd(slot, S_FAILED);
  }

  private afterEnd(slot: number, finalState: number): void {
    if (this.o.reconnect && !this.stopped && slot < this.target) {
      const exp = Math.min(16, this.retries[slot]!);
      const delay = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** exp);
      this.retries[slot] = Math.min(255, exp + 1);
      this.time[slot] = this.clock() + delay * (0.5 + Math.random() * 0.5);
      this.setState(slot, S_BACKOFF);
    } else {
      this.setState(slot, finalState);
    }
  }

  /** Closes the slot's connection (if any) and clears its parsing state, without counting anything. */
  private drop(slot: number): void {
    if (this.isOpen(slot)) {
      this.parser.stop(slot);
      this.sink.clear(slot);
    }
    this.io.close(slot);
  }

  /** Closed on purpose (ramp down, stop): not counted as closed or failed. */
  private retire(slot: number): void {
    this.drop(slot);
    if (this.state[slot] !== S_IDLE) this.setState(slot, S_STOPPED);
  }

  private setState(slot: number, next: number): void {
    const prev = this.state[slot]!;
    if (prev === next) return;
    if (prev === S_CONNECTING || prev === S_WAITING) this.connecting--;
    else if (prev === S_ACTIVE) this.active--;
    else if (prev === S_BACKOFF) this.inBackoff--;
    else if (prev === S_RETRY) this.retryWaiting--;
    if (next === S_CONNECTING || next === S_WAITING) this.connecting++;
    else if (next === S_ACTIVE) this.active++;
    else if (next === S_BACKOFF) this.inBackoff++;
    else if (next === S_RETRY) this.retryWaiting++;
    this.state[slot] = next;
  }

  // ---- the one timer for every connection ----

  private sweepSlots(): void {
    const now = nowMs();
    const late = now - this.lastSweepAt - SWEEP_MS;
    if (late > LAG_GRACE_MS) this.lagMs += late; // this process did not run: not the server's delay
    this.lastSweepAt = now;
    if (now - this.secondStartedAt >= 1000) this.rollSecond(now);
    const clock = this.clock(now);
    const revise = now - this.revisedAt >= REVISE_MS;
    let overdue = 0;
    if (this.connecting > 0 || this.inBackoff > 0) {
      const timeout = this.o.connectTimeoutMs;
      const slowAfter = this.o.paceLatencyMs;
      const since = this.pace.evidenceSince;
      const end = Math.min(this.nextSlot, this.o.capacity);
      for (let slot = 0; slot < end; slot++) {
        const s = this.state[slot];
        if (s === S_CONNECTING || s === S_WAITING) {
          const started = this.time[slot]!;
          if (timeout > 0 && clock - started > timeout) this.timedOut(slot);
          else if (revise && started >= since && clock - started > slowAfter) overdue++;
        } else if (s === S_BACKOFF && clock >= this.time[slot]! && this.connecting < this.o.maxConnecting) {
          // A new attempt after the backoff: it gets its --connect-retries again (the last ones ended in a counted
          // timeout; without this a slot that never became active again would never retry a timeout)
          this.connectTries[slot] = 0;
          this.setState(slot, S_IDLE);
          this.open(slot);
        }
      }
    }
    if (revise) {
      this.revisedAt = now;
      this.pace.revise(clock, overdue, this.limit, this.nextSlot >= this.target && this.retryWaiting === 0);
      this.limit = 'none';
    }
  }

  private rollSecond(now: number): void {
    const seconds = (now - this.secondStartedAt) / 1000;
    this.connectsLastSecond = Math.round(this.connectsThisSecond / seconds);
    this.connectsThisSecond = 0;
    this.secondStartedAt = now;
  }
}
