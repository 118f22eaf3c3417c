/**
 * The connection pool of one process: opens up to `capacity` connections at a paced rate, holds them, and counts
 * what arrives. Per connection it keeps a raw libuv handle and a few typed-array slots (state, retries, a time);
 * parsing state lives in the parser's and transport's typed arrays; every read lands in one shared buffer. No
 * closure, stream or timer per connection: connect timeouts and reconnect backoffs are swept by one timer.
 */
import { EventEmitter } from 'node:events';
import type { ErrorCause, LoadgenStatus } from '../shared/contracts.ts';
import { nowMs } from '../shared/clock.ts';
import { newClientHandle, SharedBufferReader, startConnect } from '../shared/raw-tcp/client-connect.ts';
import { errName, writeRaw, type TcpHandle } from '../shared/raw-tcp/raw-tcp.ts';
import { HttpResponseParser } from './parsers/http-response-parser.ts';
import { PortAllocator } from './port-allocator.ts';
import { encodeHistogram, LoadgenCounters, summarize, type StatusWithHistogram } from './stats.ts';
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
  backoffBaseMs: number;
  backoffMaxMs: number;
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

const PORT_TRIES = 256; // ports skipped (4-tuple taken: held, or TIME_WAIT off loopback) before a connect counts as EADDRNOTAVAIL
const TICK_MS = 10;
const SWEEP_MS = 100;

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
export class ConnectionPool extends EventEmitter implements UnitListener {
  readonly counters = new LoadgenCounters();
  private readonly o: PoolOptions;
  private readonly handles: Array<TcpHandle | undefined>;
  private readonly state: Uint8Array;
  private readonly retries: Uint8Array; // reconnect attempts since last active (backoff exponent)
  private readonly time: Float64Array; // connect start, or when a backoff ends
  private readonly parser: HttpResponseParser;
  private readonly sink: TransportSink;
  private readonly reader: SharedBufferReader;
  private readonly ports: PortAllocator | undefined;
  private readonly startedAt = nowMs();
  private target = 0;
  private rate = 0;
  private rampStartedAt = 0;
  private startedSinceRamp = 0;
  private nextSlot = 0;
  private connecting = 0;
  private active = 0;
  private inBackoff = 0;
  private tick: NodeJS.Timeout | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Recent connect completions per second (the last full second), for the status extras. */
  private connectsThisSecond = 0;
  private connectsLastSecond = 0;
  private secondStartedAt = nowMs();
  /** One completion function for every connect of this pool (the slot is on the handle). */
  private readonly connectDone = (status: number, h: TcpHandle) => this.onConnected(h.slot as number, status, h);

  constructor(options: PoolOptions) {
    super();
    this.o = options;
    const n = options.capacity;
    this.handles = new Array<TcpHandle | undefined>(n).fill(undefined);
    this.state = new Uint8Array(n);
    this.retries = new Uint8Array(n);
    this.time = new Float64Array(n);
    this.sink = options.transport.createSink(n, this);
    this.parser = new HttpResponseParser(n, this.sink);
    this.reader = new SharedBufferReader(
      (h, buf, len) => this.onRead(h.slot as number, buf, len),
      (h, err) => this.onEnd(h.slot as number, err),
    );
    if (options.sourceAddresses.length > 0) {
      this.ports = new PortAllocator(options.sourceAddresses.length, options.portRange[0], options.portRange[1]);
    }
    this.sweep = setInterval(() => this.sweepSlots(), SWEEP_MS);
  }

  /** Sets the number of connections to hold (capped at capacity) and the pace (connections/s; 0: no pacing). */
  ramp(target: number, rate: number): void {
    if (this.stopped) return;
    this.target = Math.max(0, Math.min(this.o.capacity, Math.floor(target)));
    this.rate = Math.max(0, rate);
    this.rampStartedAt = nowMs();
    this.startedSinceRamp = 0;
    while (this.nextSlot > this.target) this.retire(--this.nextSlot);
    if (this.tick === undefined && this.nextSlot < this.target) {
      this.tick = setInterval(() => this.openSome(), TICK_MS);
      this.openSome();
    }
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
      errors: { ...c.errors },
      latencyMs: summarize(c.latency),
      lastMessageAtMs: c.lastMessageAtMs,
      procs: 1,
      rampDone: this.nextSlot >= this.target,
      uptimeSeconds: (now - this.startedAt) / 1000,
      transport: this.o.transport.name,
      ...(this.o.transport.name === 'ws' ? { wsCloseCodes: { ...c.wsCloseCodes } } : {}),
      opened: c.opened,
      reconnecting: this.inBackoff,
      connectsPerSecond: this.connectsLastSecond,
      protocolProblems: { ...c.protocolProblems },
      httpStatuses: { ...c.httpStatuses },
    };
    return status;
  }

  statusWithHistogram(): StatusWithHistogram {
    return { status: this.status(), histogram: encodeHistogram(this.counters.latency) };
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

  private openSome(): void {
    if (this.stopped) return;
    let allowed = Infinity;
    if (this.rate > 0) allowed = Math.floor((this.rate * (nowMs() - this.rampStartedAt)) / 1000) - this.startedSinceRamp;
    while (this.nextSlot < this.target && allowed > 0 && this.connecting < this.o.maxConnecting) {
      this.open(this.nextSlot++);
      this.startedSinceRamp++;
      allowed--;
    }
    if (this.nextSlot >= this.target) {
      clearInterval(this.tick);
      this.tick = undefined;
    }
  }

  private open(slot: number): void {
    const t = this.o.targets.at(this.o.firstIndex + slot);
    const sources = this.o.sourceAddresses;
    let err = 0;
    for (let tries = 0; ; tries++) {
      const h = newClientHandle();
      h.slot = slot;
      let local: string | undefined;
      let localPort = 0;
      if (this.ports !== undefined) {
        const a = slot % sources.length;
        local = sources[a];
        localPort = this.ports.take(a);
      }
      err = startConnect(h, t.address, t.port, local, localPort, this.connectDone);
      if (err === 0) {
        this.handles[slot] = h;
        this.setState(slot, S_CONNECTING);
        this.time[slot] = nowMs();
        return;
      }
      h.close();
      const name = errName(err);
      // A chosen port whose 4-tuple is taken (a held or TIME_WAIT connection): try the next port.
      if (local !== undefined && (name === 'EADDRNOTAVAIL' || name === 'EADDRINUSE') && tries < PORT_TRIES) continue;
      break;
    }
    this.failed(slot, causeOf(errName(err)));
  }

  private onConnected(slot: number, status: number, h: TcpHandle): void {
    if (this.handles[slot] !== h) return; // retired while connecting: already closed
    this.connectsThisSecond++;
    if (status !== 0) {
      this.drop(slot);
      this.failed(slot, causeOf(errName(status)));
      return;
    }
    this.parser.reset(slot);
    this.sink.clear(slot);
    const t = this.o.targets.at(this.o.firstIndex + slot);
    let err = this.reader.start(h);
    if (err === 0) err = writeRaw(h, this.o.transport.request(t.path, t.host, this.sink.extraHeaders(slot)));
    if (err !== 0) {
      this.drop(slot);
      this.failed(slot, causeOf(errName(err)));
      return;
    }
    if (this.o.transport.activeOnConnect) this.becomeActive(slot);
    else this.setState(slot, S_WAITING);
  }

  // ---- reading (UnitListener: called by the transport sink while parsing) ----

  private onRead(slot: number, buf: Buffer, len: number): void {
    if (this.parser.feed(slot, buf, 0, len)) return;
    const problem = this.parser.problem;
    if (problem === undefined) return; // the sink paused: it already ended the slot (a refusal, a close frame)
    const c = this.counters;
    c.protocolProblems[problem] = (c.protocolProblems[problem] ?? 0) + 1;
    this.endSlot(slot, 'protocol');
  }

  private onEnd(slot: number, err: number): void {
    if (this.handles[slot] === undefined) return;
    if (err === 0) {
      this.parser.end(slot); // a close-delimited body ends here (the sink may end the slot itself)
      if (this.handles[slot] === undefined) return;
    }
    this.endSlot(slot, err === 0 ? undefined : causeOf(errName(err)));
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
    const h = this.handles[slot];
    return h !== undefined && writeRaw(h, bytes) === 0;
  }

  onUnit(_slot: number, sentAtMs: number): void {
    this.counters.unit(sentAtMs, Number.isNaN(sentAtMs) ? 0 : nowMs());
  }

  onResponseEnd(slot: number): void {
    if (this.o.transport.activeOnConnect) {
      // Long-poll: ask again on the same connection.
      const h = this.handles[slot];
      const t = this.o.targets.at(this.o.firstIndex + slot);
      if (h !== undefined && writeRaw(h, this.o.transport.request(t.path, t.host, this.sink.extraHeaders(slot))) !== 0) this.endSlot(slot, 'reset');
      return;
    }
    // A stream the server ended cleanly: close our side too.
    this.endSlot(slot, undefined);
  }

  // ---- ending ----

  private becomeActive(slot: number): void {
    this.setState(slot, S_ACTIVE);
    this.retries[slot] = 0;
    this.counters.opened++;
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
      this.time[slot] = nowMs() + delay * (0.5 + Math.random() * 0.5);
      this.setState(slot, S_BACKOFF);
    } else {
      this.setState(slot, finalState);
    }
  }

  /** Closes the slot's handle (if any) and clears its parsing state, without counting anything. */
  private drop(slot: number): void {
    const h = this.handles[slot];
    this.handles[slot] = undefined;
    if (h !== undefined) {
      this.parser.stop(slot);
      this.sink.clear(slot);
      h.readStop();
      h.close();
    }
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
    if (next === S_CONNECTING || next === S_WAITING) this.connecting++;
    else if (next === S_ACTIVE) this.active++;
    else if (next === S_BACKOFF) this.inBackoff++;
    this.state[slot] = next;
  }

  // ---- the one timer for every connection ----

  private sweepSlots(): void {
    const now = nowMs();
    if (now - this.secondStartedAt >= 1000) this.rollSecond(now);
    if (this.connecting === 0 && this.inBackoff === 0) return;
    const timeout = this.o.connectTimeoutMs;
    const end = Math.min(this.nextSlot, this.o.capacity);
    for (let slot = 0; slot < end; slot++) {
      const s = this.state[slot];
      if (s === S_CONNECTING || (s === S_WAITING && timeout > 0)) {
        if (timeout > 0 && now - this.time[slot]! > timeout) this.endSlot(slot, 'timeout');
      } else if (s === S_BACKOFF && now >= this.time[slot]! && this.connecting < this.o.maxConnecting) {
        this.setState(slot, S_IDLE);
        this.open(slot);
      }
    }
  }

  private rollSecond(now: number): void {
    const seconds = (now - this.secondStartedAt) / 1000;
    this.connectsLastSecond = Math.round(this.connectsThisSecond / seconds);
    this.connectsThisSecond = 0;
    this.secondStartedAt = now;
  }
}
