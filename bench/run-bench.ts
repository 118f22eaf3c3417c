/**
 * The bench engine: runs the selected stages in order (memory, then one flood per N carrying the fan-out and sends
 * phases), writes the results files after every stage (an interrupted run still leaves what it measured) and
 * regenerates README's bench section. It never prints: it emits, and the CLI's listener prints.
 *
 * - `stage`    {name, detail}     a stage (or one target / one N of it) starts
 * - `progress` {text}             something moved (connections held, a flood's phase)
 * - `figure`   {stage, text}      a headline figure, as soon as it is known
 * - `written`  {md, json}         the results files were (re)written
 *
 * The flood's own output (plan, progress) goes to the streams handed in.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { LabError } from '../shared/errors.ts';
import { floodTimeLimit, type BenchConfig } from './config.ts';
import { floodStage } from './flood/flood-stage.ts';
import type { FloodFigures } from './flood/flood-figures.ts';
import { hostInfo } from './host-info.ts';
import { measureIdleMemory, MEMORY_METHOD, targetName, type MemoryTarget } from './memory/memory-stage.ts';
import { fmtInt, kb, ms, pct } from './report/format.ts';
import { runBroadcastStage } from './pairs/broadcast-stage.ts';
import { runCpuStage } from './pairs/cpu-stage.ts';
import { compareBroadcast, compareCpu } from './pairs/pair-figures.ts';
import { updateReadme } from './report/readme-section.ts';
import { renderResultsMd } from './report/results-md.ts';
import type { BenchResults } from './report/results.ts';
import { checkTargets } from './report/targets.ts';

export interface BenchIo {
  stdout: Writable;
  stderr: Writable;
}

export interface BenchOutcome {
  results: BenchResults;
  mdPath: string;
  jsonPath: string;
  /** A stage failed (its error is in the results); the others still ran. */
  failed: boolean;
}

/** `2026-11-24T2240Z`: sorts by time, safe in a file name. */
export function stamp(d: Date): string {
  return `${d.toISOString().slice(0, 10)}T${d.toISOString().slice(11, 16).replace(':', '')}Z`;
}

export class BenchRun extends EventEmitter {
  readonly config: BenchConfig;
  readonly command: string;
  private readonly controller = new AbortController();

  constructor(config: BenchConfig, command: string) {
    super();
    this.config = config;
    this.command = command;
  }

  /** Stops at the next step; whatever was started is cleaned up by the stage that started it. */
  abort(reason: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new LabError('LAB_ERR_INTERRUPTED', reason));
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  async run(io: BenchIo): Promise<BenchOutcome> {
    const cfg = this.config;
    const signal = this.controller.signal;
    const started = new Date();
    const host = hostInfo();
    const base = `${stamp(started)}-${cfg.hostLabel || host.hostname}`;
    mkdirSync(cfg.resultsDir, { recursive: true });
    const mdPath = join(cfg.resultsDir, `${base}.md`);
    const jsonPath = join(cfg.resultsDir, `${base}.json`);
    const results: BenchResults = {
      version: 1,
      startedAt: started.toISOString(),
      finishedAt: started.toISOString(),
      command: this.command,
      host,
      stages: cfg.stages,
      config: { ...cfg },
      floods: [],
      floodFailures: [],
      targets: [],
      interrupted: false,
    };
    let failed = false;
    const write = () => {
      results.finishedAt = new Date().toISOString();
      results.interrupted = signal.aborted;
      results.targets = checkTargets(results);
      writeFileSync(jsonPath, `${JSON.stringify(results, null, 1)}\n`);
      writeFileSync(mdPath, renderResultsMd(results));
      if (cfg.readme) updateReadme(cfg.readme, cfg.resultsDir);
      this.emit('written', { md: mdPath, json: jsonPath });
    };

    if (cfg.stages.includes('memory')) {
      const targets: MemoryTarget[] = [
        ...cfg.references.map((k) => ({ kind: k }) as MemoryTarget),
        ...cfg.engines.map((engine) => ({ kind: 'engine', engine }) as MemoryTarget),
      ];
      results.memory = { n: cfg.memoryN, intervalSeconds: cfg.intervalSeconds, method: MEMORY_METHOD, results: [], failures: [] };
      for (const t of targets) {
        if (signal.aborted) break;
        this.emit('stage', { name: 'memory', detail: `${targetName(t)}: ${fmtInt(cfg.memoryN)} idle connections` });
        try {
          const r = await measureIdleMemory(t, { n: cfg.memoryN, rate: Math.min(cfg.rate, 5000), intervalSeconds: cfg.intervalSeconds, portDrainSeconds: cfg.portDrainSeconds, signal, onProgress: (text) => this.emit('progress', { text }) });
          results.memory.results.push(r);
          this.emit('figure', { stage: 'memory', text: `${r.target}: ${kb(r.perConnection.total)} per connection (user ${kb(r.perConnection.user)}, kernel ${kb(r.perConnection.kernel)}), ${fmtInt(r.held)} held` });
        } catch (err) {
          if (signal.aborted) break;
          failed = true;
          const e = err as Error;
          results.memory.failures.push({ target: targetName(t), error: e.message });
          this.emit('figure', { stage: 'memory', text: `${targetName(t)}: FAILED ${e.message}` });
        }
      }
      write();
    }

    if (cfg.stages.includes('cpu') && !signal.aborted) {
      this.emit('stage', { name: 'cpu', detail: `CPU per chunk against the C pair: ${fmtInt(cfg.cpuN)} streams at ${cfg.cpuRates.map(fmtInt).join(' and ')} chunks/s, ${cfg.cpuTransports.join(', ')}, ${cfg.cpuRounds} rounds` });
      try {
        results.cpu = await runCpuStage({
          n: cfg.cpuN,
          rates: cfg.cpuRates,
          transports: cfg.cpuTransports,
          windowSeconds: cfg.cpuWindowSeconds,
          settleSeconds: cfg.cpuSettleSeconds,
          rounds: cfg.cpuRounds,
          signal,
          onProgress: (text) => this.emit('progress', { text }),
          onFailure: (what, error) => this.emit('figure', { stage: 'cpu', text: `${what}: FAILED ${error}` }),
          onRun: (r) => this.emit('figure', { stage: 'cpu', text: `${r.impl} ${r.transport} ${fmtInt(r.rate)}/s round ${r.round}: ${r.window.usPerChunk.toFixed(1)} µs/chunk (server ${r.window.server.usPerChunk.toFixed(1)}, client ${r.window.client.usPerChunk.toFixed(1)}; softirq ${r.window.softirqUsPerChunk.toFixed(1)} apart), ${pct(r.window.chunks / r.window.expectedChunks)} of the chunks asked` }),
        });
        for (const c of compareCpu(results.cpu)) {
          this.emit('figure', { stage: 'cpu', text: `${c.transport} ${fmtInt(c.rate)}/s: comet-lab ${c.comet.total.toFixed(1)} µs/chunk, C ${c.c.total.toFixed(1)}: ${c.ratio.toFixed(2)}x (rounds ${c.ratioRange[0].toFixed(2)}-${c.ratioRange[1].toFixed(2)}x)` });
        }
        if (results.cpu.failures.length > 0) failed = true;
      } catch (err) {
        if (!signal.aborted) {
          failed = true;
          this.emit('figure', { stage: 'cpu', text: `FAILED ${(err as Error).message}` });
        }
      }
      write();
    }

    const floods = cfg.stages.some((s) => s === 'flood' || s === 'fanout' || s === 'sends');
    for (const n of floods ? cfg.n : []) {
      if (signal.aborted) break;
      const limit = floodTimeLimit(cfg, n);
      this.emit('stage', { name: 'flood', detail: `${fmtInt(n)} connections (bounded to ${limit} s)` });
      try {
        const f = await floodStage({
          n,
          rate: cfg.rate,
          holdSeconds: cfg.holdSeconds,
          intervalSeconds: cfg.intervalSeconds,
          engine: cfg.floodEngine,
          transport: cfg.floodTransport,
          broadcast: cfg.stages.includes('fanout'),
          sendsRate: cfg.stages.includes('sends') ? cfg.sendsRate : 0,
          sendsSeconds: cfg.sendsSeconds,
          timeLimitSeconds: limit,
          force: cfg.force,
          reportsDir: cfg.reportsDir,
          stdout: io.stdout,
          stderr: io.stderr,
          signal,
          onPhase: (at, phase) => this.emit('progress', { text: `flood ${fmtInt(at)}: ${phase}` }),
        });
        results.floods.push(f);
        this.emitFlood(f);
      } catch (err) {
        if (signal.aborted) break;
        failed = true;
        results.floodFailures.push({ n, error: (err as Error).message });
        this.emit('figure', { stage: 'flood', text: `${fmtInt(n)}: FAILED ${(err as Error).message}` });
      }
      write();
    }
    if (cfg.stages.includes('broadcast') && !signal.aborted) {
      this.emit('stage', { name: 'broadcast', detail: `one broadcast to ${cfg.broadcastN.map(fmtInt).join(' and ')} streams, comet-lab and the C pair, ${cfg.broadcastRounds} rounds` });
      try {
        results.broadcast = await runBroadcastStage({
          ns: cfg.broadcastN,
          rounds: cfg.broadcastRounds,
          intervalSeconds: cfg.intervalSeconds,
          fileLimit: Number(host.fileLimit.split(' ')[1]) || 20_000, // 'soft hard files': the hard limit, which Node raises itself to
          signal,
          onProgress: (text) => this.emit('progress', { text }),
          onFailure: (what, error) => this.emit('figure', { stage: 'broadcast', text: `${what}: FAILED ${error}` }),
          onRun: (r) => this.emit('figure', { stage: 'broadcast', text: `${r.impl} at ${fmtInt(r.n)} round ${r.round}: ${fmtInt(r.received)}/${fmtInt(r.expected)} in ${ms(r.fanOutMs)} (p50 ${ms(r.p50Ms, 1)}, p99 ${ms(r.p99Ms, 1)})` }),
        });
        for (const c of compareBroadcast(results.broadcast)) {
          this.emit('figure', { stage: 'broadcast', text: `${fmtInt(c.n)}: comet-lab ${ms(c.comet.fanOutMs)}, C ${ms(c.c.fanOutMs)}: ${c.ratio.toFixed(2)}x` });
        }
        if (results.broadcast.failures.length > 0) failed = true;
      } catch (err) {
        if (!signal.aborted) {
          failed = true;
          this.emit('figure', { stage: 'broadcast', text: `FAILED ${(err as Error).message}` });
        }
      }
      write();
    }
    if (signal.aborted || (!cfg.stages.includes('memory') && !floods && !cfg.stages.includes('cpu') && !cfg.stages.includes('broadcast'))) write();
    return { results, mdPath, jsonPath, failed };
  }

  private emitFlood(f: FloodFigures): void {
    const say = (text: string) => this.emit('figure', { stage: 'flood', text: `${fmtInt(f.nAsked)}: ${text}` });
    say(`${f.complete ? 'complete' : `INCOMPLETE (${f.incomplete ?? 'time bound'})`}, held ${fmtInt(f.reached.server)} (server), ${f.secondsToTarget === undefined ? 'N not reached' : `N in ${f.secondsToTarget.toFixed(1)} s`}`);
    say(`server ${kb(f.server.slopeBytes)}/conn (slope), ${kb(f.server.totalPerConnectionBytes)} total/N; loadgens ${kb(f.loadgen.slopeBytes)}/conn (slope)`);
    say(`chunks ${pct(f.chunks.ratio)} of expected; CPU ${f.cpu.totalUsPerChunk?.toFixed(1) ?? 'n/a'} µs/chunk (server ${f.cpu.serverUsPerChunk?.toFixed(1) ?? 'n/a'}, loadgens ${f.cpu.loadgenUsPerChunk?.toFixed(1) ?? 'n/a'})`);
    if (f.fanout) say(`broadcast: ${fmtInt(f.fanout.received)}/${fmtInt(f.fanout.expected)} in ${ms(f.fanout.fanOutMs)} (p50 ${ms(f.fanout.p50Ms)}, p99 <= ${ms(f.fanout.p99Ms)})`);
    if (f.sends) say(`sends: ${fmtInt(f.sends.sustainedRate)}/s, delivery p99 <= ${ms(f.sends.p99Ms, 1)}`);
  }
}
