/**
 * Memory per idle stream, per engine and transport: one worker holds N streams (clients in other processes, outside
 * the server's memory cgroup), and the growth of the server's whole memory is divided by N. The same measure applies
 * to nginx + nchan (one worker process, `nchan:chunked` or `nchan:ws`), the C reference, minus the forced GC. Whole memory is the cgroup's
 * working set (usage - inactive_file: user space plus kernel objects charged to it, socket structs included) plus
 * its kernel TCP buffer memory; RSS of the server's processes and /proc/net/sockstat are printed as cross-checks.
 * Both readings follow a full GC in every server process (GET /stats?gc=1 with --expose-gc), so garbage left by
 * the ramp is not counted as held memory, and after a warm-up of 500 streams opened and closed, so one-time costs
 * (code paged in, tables first sized) are not either. Emits events; never prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canConnect, nginxConf } from '../../bench/memory/nginx.ts';
import { freePortBelow } from '../../orchestrator/backends/local/free-port.ts';
import type { Transport } from '../../shared/contracts.ts';
import type { EngineName } from '../engines/engine.ts';
import { MemoryCgroup, rssBytes, sockstatTcpPages } from './cgroup-v1.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const HOLD = fileURLToPath(new URL('./hold-streams.ts', import.meta.url));

/** What holds the streams: a comet-lab engine, or nginx + nchan; and what the streams speak. */
export interface MemoryBenchTarget {
  server: EngineName | 'nchan';
  transport: Transport;
}

export interface MemoryBenchOptions {
  /** Engines measured with chunked streams (the original figure); `targets` adds any other pairing. */
  engines?: EngineName[];
  targets?: MemoryBenchTarget[];
  connections: number;
  clients: number;
  settleMs: number;
  /** Full GC in every server process before each reading (GET /stats?gc=1); else only the server's own idle GC. */
  explicitGc: boolean;
}

export interface MemoryFigures {
  workingSetBytes: number;
  tcpBytes: number;
  rssBytes: number;
  sockstatBytes: number;
}

export interface EngineMemoryResult {
  engine: EngineName | 'nchan';
  transport: Transport;
  held: number;
  before: MemoryFigures;
  after: MemoryFigures;
  /** Bytes per held stream. whole = working set + tcp; sockstat counts both ends of every loopback connection. */
  perStream: { whole: number; workingSet: number; tcp: number; rss: number; sockstat: number };
}

export interface MemoryBenchEvents {
  phase: [engine: string, phase: string];
  result: [EngineMemoryResult];
}

const WARM_UP = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitForLine(proc: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no "${pattern.source}" within ${timeoutMs} ms`)), timeoutMs);
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) early`));
    });
  });
}

async function stats(port: number, gc: boolean): Promise<{ open: { total: number } }> {
  const res = await fetch(`http://127.0.0.1:${port}/stats${gc ? '?gc=1' : ''}`);
  return (await res.json()) as { open: { total: number } };
}

export class MemoryBench extends EventEmitter<MemoryBenchEvents> {
  private readonly live = new Set<ChildProcess>();
  private readonly groups = new Set<MemoryCgroup>();

  async run(options: MemoryBenchOptions): Promise<EngineMemoryResult[]> {
    const results: EngineMemoryResult[] = [];
    const targets: MemoryBenchTarget[] = [...(options.engines ?? []).map((server) => ({ server, transport: 'chunked' as const })), ...(options.targets ?? [])];
    try {
      for (const target of targets) results.push(await this.measure(target, options));
    } finally {
      await this.cleanup();
    }
    return results;
  }

  /** Stops every process and removes every cgroup this bench made (also on Ctrl-C). Safe to call twice. */
  async cleanup(): Promise<void> {
    for (const p of this.live) p.kill('SIGTERM');
    const deadline = Date.now() + 6000;
    while ([...this.live].some((p) => p.exitCode === null && p.signalCode === null) && Date.now() < deadline) await sleep(50);
    for (const p of this.live) p.kill('SIGKILL');
    this.live.clear();
    for (const g of this.groups) await g.remove().catch(() => {});
    this.groups.clear();
  }

  private spawn(command: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const p = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    this.live.add(p);
    p.once('exit', () => this.live.delete(p));
    return p;
  }

  private figures(group: MemoryCgroup): MemoryFigures {
    const cg = group.read();
    return {
      workingSetBytes: cg.workingSetBytes,
      tcpBytes: Math.max(0, cg.tcpBytes),
      rssBytes: group.pids().reduce((sum, pid) => sum + rssBytes(pid), 0),
      sockstatBytes: sockstatTcpPages() * 4096,
    };
  }

  /** Starts nginx + nchan (one worker) in `group`; resolves with its port and a stop function. */
  private async startNchan(group: MemoryCgroup, connections: number): Promise<{ port: number; stop(): Promise<void> }> {
    const dir = mkdtempSync(join(tmpdir(), 'comet-bench-nchan-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'tmp'));
    const port = await freePortBelow(32768);
    writeFileSync(join(dir, 'nginx.conf'), nginxConf('nchan', dir, port, connections));
    const proc = this.spawn(group.wrap(['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]));
    const until = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (proc.exitCode !== null || Date.now() > until) throw new Error(`nginx + nchan did not start on ${port} (see ${dir}/error.log)`);
      await sleep(50);
    }
    return {
      port,
      stop: async () => {
        proc.kill('SIGQUIT');
        for (let i = 0; i < 100 && proc.exitCode === null && proc.signalCode === null; i++) await sleep(50);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  private async measure(target: MemoryBenchTarget, options: MemoryBenchOptions): Promise<EngineMemoryResult> {
    const { server: engine, transport } = target;
    const label = `${engine}/${transport}`;
    const nchan = engine === 'nchan';
    const group = new MemoryCgroup(`comet-lab-bench-${process.pid}-${engine}-${transport}`);
    this.groups.add(group);
    this.emit('phase', label, 'starting server');
    let port: number;
    let stopServer: () => Promise<void>;
    if (nchan) {
      ({ port, stop: stopServer } = await this.startNchan(group, options.connections));
    } else {
      const server = this.spawn(
        // the supervisor gets the workers' 1 MB young generation too (see README: run it the same way in production)
        group.wrap([process.execPath, ...(options.explicitGc ? ['--expose-gc'] : []), '--max-semi-space-size=1', CLI, '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--engine', engine, '--interval', '3600s', '--poll-wait', '3600s', '--max-connections', String(options.connections), '--gc-min-interval', '0']),
        // its own server, no token and no bound on ?gc=1: the readings must follow a collection each
        { COMET_WORKER_NODE_FLAGS: options.explicitGc ? '--expose-gc' : '', COMET_ADMIN_TOKEN: '', COMET_ADMIN_TOKEN_FILE: '' },
      );
      const ready = await waitForLine(server, /comet-lab server ready (\{.*\})\n/, 20_000, 'server');
      port = (JSON.parse(ready[1]!) as { port: number }).port;
      stopServer = async () => {
        server.kill('SIGTERM');
        if (server.exitCode === null && server.signalCode === null) await new Promise((r) => server.once('exit', r));
      };
    }
    // streams the server counts (nginx has no such count: the clients' is used)
    const open = async (gc: boolean) => (nchan ? -1 : (await stats(port, gc)).open.total);
    // warm-up: page in the code paths of accepting and holding a stream once, so the baseline does not charge
    // one-time costs (code pages touched, maps and tables first sized) to the streams being measured
    this.emit('phase', label, `warm-up: ${WARM_UP} streams opened and closed`);
    const warm = this.spawn([process.execPath, HOLD, '127.0.0.1', String(port), String(WARM_UP), 'warm', '127.0.0.9', transport]);
    await waitForLine(warm, /held (\d+) failed (\d+)\n/, 60_000, 'warm-up client');
    warm.kill('SIGTERM');
    for (let i = 0; i < 100 && (await open(false)) > 0; i++) await sleep(100);
    await sleep(nchan ? 1000 : 500);
    await open(options.explicitGc);
    await sleep(300);
    const before = this.figures(group);

    this.emit('phase', label, `opening ${options.connections} streams`);
    const clients: ChildProcess[] = [];
    const share = Math.ceil(options.connections / options.clients);
    for (let c = 0; c < options.clients; c++) {
      const n = Math.min(share, options.connections - c * share);
      clients.push(this.spawn([process.execPath, HOLD, '127.0.0.1', String(port), String(n), `bench${c}`, `127.0.0.${c + 2}`, transport]));
    }
    const helds = await Promise.all(clients.map((p, c) => waitForLine(p, /held (\d+) failed (\d+)\n/, 120_000, `client ${c}`)));
    const held = helds.reduce((sum, m) => sum + Number(m[1]), 0);
    // a long-poll counts as held once asked: wait until the server has read every request
    for (let i = 0; i < 100 && !nchan && (await open(false)) < held; i++) await sleep(100);

    this.emit('phase', label, `holding ${held}, settling`);
    await sleep(options.settleMs);
    const serverOpen = await open(options.explicitGc);
    await sleep(300);
    const after = this.figures(group);
    if (!nchan && serverOpen !== held) this.emit('phase', label, `warning: server counts ${serverOpen} open, clients hold ${held}`);

    this.emit('phase', label, 'stopping');
    for (const p of clients) p.kill('SIGTERM');
    await stopServer();
    await Promise.all(clients.map((p) => (p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => p.once('exit', r)))));
    await group.remove();
    this.groups.delete(group);

    const per = (a: number, b: number) => (held > 0 ? (b - a) / held : 0);
    const ws = per(before.workingSetBytes, after.workingSetBytes);
    const tcp = per(before.tcpBytes, after.tcpBytes);
    const result: EngineMemoryResult = {
      engine,
      transport,
      held,
      before,
      after,
      perStream: {
        whole: ws + tcp,
        workingSet: ws,
        tcp,
        rss: per(before.rssBytes, after.rssBytes),
        sockstat: per(before.sockstatBytes, after.sockstatBytes),
      },
    };
    this.emit('result', result);
    return result;
  }
}
