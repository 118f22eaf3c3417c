/**
 * One load-generator run: builds the engine (in-process, or children), serves the control API, ramps when told
 * (or at once with --rate/--interval), emits a status every --report-every, and ends by itself after --duration
 * (or --hold-for once the ramp is done), on POST /stop, or when `stop()` is called (the CLI does on SIGINT/SIGTERM).
 * It never prints: the CLI listens to its events.
 */
import { EventEmitter } from 'node:events';
import { LabError, EXIT } from '../shared/errors.ts';
import type { LoadgenStatus } from '../shared/contracts.ts';
import type { LoadgenConfig, RateSource } from './config.ts';
import { startControlServer, type ControlServer } from './control-server.ts';
import { controlToken, type ControlToken } from './control-token.ts';
import type { LoadgenEngine } from './engine.ts';
import type { IoName } from './io/client-io.ts';
import { resolveIo } from './io/choose-io.ts';
import { LocalEngine } from './local-engine.ts';
import type { PoolSpec } from './pool-spec.ts';
import { ProcsEngine } from './procs-engine.ts';
import { unbindableAddresses } from './source-addresses.ts';

export interface ReadyInfo {
  controlPort: number | null;
  /** The control API's base URL (null: none was asked for and none is needed). */
  control: string | null;
  /** Where the generated control token is (absent when the token was given, or without a control API). */
  controlTokenFile?: string;
  pid: number;
  procs: number;
  count: number;
  transport: string;
  /** Connections per second asked at start (0: nothing opens until POST /ramp) and where that came from. */
  rate: number;
  rateFrom: RateSource;
  pacing: 'closed-loop' | 'fixed';
  io: IoName;
  /** Present when nothing opens until the control API is told to ramp. */
  waitingFor?: 'POST /ramp';
}

export type StopReason = 'duration' | 'hold-for' | 'stop-request' | 'signal' | 'parent-gone';

export interface RunEvents {
  ready: [ReadyInfo];
  /** Something the user should know that does not stop the run (e.g. `LAB_WARN_RAW_TCP_UNAVAILABLE`). */
  warning: [string];
  report: [LoadgenStatus];
  done: [{ status: LoadgenStatus; reason: StopReason }];
}

export class LoadgenRun extends EventEmitter<RunEvents> {
  private engine: LoadgenEngine | undefined;
  private control: ControlServer | undefined;
  private token: ControlToken | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<LoadgenStatus> | undefined;
  private finishing: Promise<void> | undefined;
  private reason: StopReason = 'duration';
  private readonly config: LoadgenConfig;
  /** Resolves with the final totals when the run is over (for whatever reason). */
  readonly done: Promise<{ status: LoadgenStatus; reason: StopReason }>;
  private resolveDone!: (v: { status: LoadgenStatus; reason: StopReason }) => void;

  constructor(config: LoadgenConfig) {
    super();
    this.config = config;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Starts everything; resolves once ready (the control port is listening). Throws LabError if it cannot. */
  async start(): Promise<ReadyInfo> {
    const c = this.config;
    const { io, warning } = resolveIo(c.io);
    if (warning) this.emit('warning', warning);
    if (c.sourceAddresses.length > 0) {
      const bad = await unbindableAddresses(c.sourceAddresses);
      if (bad.length > 0) {
        throw new LabError('LAB_ERR_SOURCE_ADDRESS', `--source-ips: not an address of this host: ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? `, ... (${bad.length} in all)` : ''}`, {
          exitCode: EXIT.preflight,
          hint: 'on one host, any 127.0.0.0/8 address works; other addresses must be configured on an interface',
        });
      }
    }
    const spec: PoolSpec = {
      template: c.template,
      urls: c.urls,
      firstIndex: c.start,
      capacity: c.count,
      transport: c.transport,
      sourceAddresses: c.sourceAddresses,
      portRange: c.portRange,
      maxConnecting: c.maxConnecting,
      connectTimeoutMs: c.connectTimeoutMs,
      reconnect: c.reconnect,
      keepOpen: c.keepOpen,
      backoffBaseMs: c.backoffBaseMs,
      backoffMaxMs: c.backoffMaxMs,
      io,
      closedLoop: c.closedLoop,
      paceLatencyMs: c.paceLatencyMs,
      connectRetries: c.connectRetries,
    };
    try {
      this.engine = c.procs > 1 ? await ProcsEngine.create(spec, c.procs) : await LocalEngine.create(spec);
    } catch (err) {
      throw new LabError('LAB_ERR_LOADGEN_START', `the load generator could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (c.controlPort !== undefined) {
      try {
        this.token = controlToken(c.controlToken, c.controlTokenSource);
      } catch (err) {
        await this.engine.stop();
        throw new LabError('LAB_ERR_CONTROL_TOKEN', `the control API's token file could not be written: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          exitCode: EXIT.preflight,
          hint: 'give the token instead: LOADGEN_CONTROL_TOKEN=<16+ characters> or --control-token-file PATH',
        });
      }
      try {
        this.control = await startControlServer(this.engine, c.controlHost, c.controlPort, {
          defaultRate: c.rate,
          token: this.token.token,
          stop: () => this.stopEngine('stop-request'),
          afterStop: () => void this.finish(),
        });
      } catch (err) {
        await this.engine.stop();
        this.token?.remove();
        throw new LabError('LAB_ERR_CONTROL_PORT', `--control-port ${c.controlPort}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          exitCode: EXIT.preflight,
          hint: 'use --control-port 0 to pick a free port',
        });
      }
    }
    const engine = this.engine;
    this.timers.push(setTimeout(() => void this.stop('duration'), c.durationSeconds * 1000));
    this.timers.push(
      setInterval(() => {
        engine.status().then((s) => {
          if (!this.stopping) this.emit('report', s);
        });
      }, c.reportEveryMs),
    );
    if (c.holdForSeconds > 0) this.watchHoldFor(engine, c.holdForSeconds);
    if (c.rate > 0) engine.ramp(c.count, c.rate);
    const port = this.control?.port;
    const host = c.controlHost.includes(':') ? `[${c.controlHost}]` : c.controlHost;
    const info: ReadyInfo = {
      controlPort: port ?? null,
      control: port === undefined ? null : `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      ...(this.token?.file ? { controlTokenFile: this.token.file } : {}),
      pid: process.pid,
      procs: engine.procs,
      count: c.count,
      transport: c.transport,
      rate: c.rate,
      rateFrom: c.rateSource,
      pacing: c.closedLoop ? 'closed-loop' : 'fixed',
      io,
      ...(c.rate > 0 ? {} : { waitingFor: 'POST /ramp' as const }),
    };
    this.emit('ready', info);
    return info;
  }

  /** Once every targeted connection was attempted, holds `seconds` more, then stops. */
  private watchHoldFor(engine: LoadgenEngine, seconds: number): void {
    const poll = setInterval(() => {
      engine.status().then((s) => {
        if (s.target > 0 && s.rampDone && s.connecting === 0) {
          clearInterval(poll);
          this.timers.push(setTimeout(() => void this.stop('hold-for'), seconds * 1000));
        }
      });
    }, 250);
    this.timers.push(poll);
  }

  /** Closes every connection, the control port and the children; resolves with the final totals. */
  async stop(reason: StopReason): Promise<LoadgenStatus> {
    const status = await this.stopEngine(reason);
    await this.finish();
    return status;
  }

  /**
   * Closes every connection and the children (not the control port, so POST /stop can still answer). The final
   * status carries `activeAtStop`: how many were held when the stop came (its `active` is 0, they are closed).
   */
  stopEngine(reason: StopReason): Promise<LoadgenStatus> {
    this.stopping ??= (async () => {
      this.reason = reason;
      for (const t of this.timers) clearTimeout(t);
      const engine = this.engine!;
      const before = await engine.status().catch(() => undefined);
      const status = await engine.stop();
      (status as LoadgenStatus & { activeAtStop?: number }).activeAtStop = before?.active ?? 0;
      return status;
    })();
    return this.stopping;
  }

  /** After stopEngine: closes the control port and ends the run (the `done` event). */
  finish(): Promise<void> {
    this.finishing ??= (async () => {
      const status = await this.stopping!;
      await this.control?.close();
      this.token?.remove();
      const result = { status, reason: this.reason };
      this.resolveDone(result);
      this.emit('done', result);
    })();
    return this.finishing;
  }
}
