/**
 * Stage 1: memory per idle connection at N connections on one worker, for every server engine and the references
 * (nginx's keep-alive floor, nginx + nchan, the seed's mochiweb app), each measured the same way: the target alone in
 * a cgroup v1 memory group of its own, a reading before any connection, N connections opened from outside the group
 * and held, a reading after; the growth divided by the connections held. The references are the orchestrator's own
 * targets (orchestrator/targets/: nginx-idle, nchan, mochiweb), started the way a flood starts them; the load
 * generator (with --keep-open for the floor) is outside the group, so only the server side is counted.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ComponentCgroup, detectCgroup, removeRunDir } from '../../orchestrator/backends/local/cgroup.ts';
import { readSockstat } from '../../orchestrator/run/sockstat.ts';
import { freePortBelow } from '../../orchestrator/backends/local/free-port.ts';
import { controlTokenOf, exited, getJson, postJson, startWithReadyLine } from '../../loadgen/bench/bench-support.ts';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { readyPrefix } from '../../shared/ready-line.ts';
import { MemoryBench } from '../../server/bench/memory-bench.ts';
import type { EngineName } from '../../server/engines/engine.ts';
import { EXIT, LabError } from '../../shared/errors.ts';
import { perConnection, readCgroupMemory, type CgroupMemory } from './cgroup-memory.ts';
import { mochiwebTarget } from '../../orchestrator/targets/mochiweb.ts';
import { nchanTarget } from '../../orchestrator/targets/nchan.ts';
import { nginxIdleTarget } from '../../orchestrator/targets/nginx-idle.ts';
import { standalonePlan } from '../../orchestrator/targets/standalone-plan.ts';
import type { LaunchedServer, Target } from '../../orchestrator/targets/target.ts';
import type { Reference } from '../config.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;

/** `engine:<name>` for a comet-lab server engine, or one of the references. */
export type MemoryTarget = { kind: 'engine'; engine: string } | { kind: Reference };

export function targetName(t: MemoryTarget): string {
  return t.kind === 'engine' ? t.engine : t.kind === 'nchan' ? 'nginx+nchan' : t.kind === 'mochiweb' ? 'mochiweb (seed app)' : 'nginx keep-alive floor';
}

/** The orchestrator's target behind a reference: the floor is nginx-idle. */
function referenceTarget(kind: Reference): Target {
  return kind === 'floor' ? nginxIdleTarget() : kind === 'nchan' ? nchanTarget() : mochiwebTarget();
}

export interface MemoryTargetResult {
  target: string;
  kind: MemoryTarget['kind'];
  asked: number;
  held: number;
  /** How it was measured, where it differs from the stage's method sentence. */
  method?: string;
  errors: number;
  /** Failed connections by cause (the client's own classification). */
  errorsByCause: Record<string, number>;
  /** Host sockets in TIME_WAIT when the target started (they hold ports; see waitForTimeWait). */
  timeWaitAtStart: number;
  rampSeconds: number;
  before: CgroupMemory;
  after: CgroupMemory;
  /** Growth per held connection, bytes: total and its user-space / kernel split. */
  perConnection: { total: number; user: number; kernel: number };
  /** Host-wide TCP buffer memory growth (/proc/net/sockstat, both ends, every process on the host), bytes per connection. */
  sockstatTcpPerConnection: number;
  /** Everything in the group at N divided by N (the process base included). */
  totalPerConnection: number;
  processes: number;
}

export interface MemoryStageOptions {
  n: number;
  rate: number;
  intervalSeconds: number;
  /** Longest wait for the host's TIME_WAIT sockets to expire before a target (0: do not wait). */
  portDrainSeconds: number;
  signal: AbortSignal;
  onProgress?: (text: string) => void;
}

export const MEMORY_METHOD =
  'every target alone in a cgroup v1 memory group of its own (joined before exec), its clients outside it; 500 connections opened and ' +
  'closed first (warm-up), then N held; growth of usage - total_inactive_file + memory.kmem.tcp.usage_in_bytes from before the N to 3 s ' +
  'after the last, divided by the connections held. Engines through the server\'s own bench (server/bench/memory-bench.ts, `make ' +
  'bench-server`, full GC before each reading as there; user = RSS growth, kernel = the rest); nginx, nchan and mochiweb as the orchestrator\'s targets ' +
  '(user = growth - memory.kmem.usage_in_bytes growth). kmem.tcp stays 0 on this kernel (6.18): idle sockets queue no data (sockstat cross-check beside)';

interface Holder {
  held(): Promise<{ held: number; errors: number; byCause: Record<string, number> }>;
  stop(): Promise<void>;
}

/**
 * The load generator, outside the group, holding up to `n` streams of `/test/{i}` (it sends TE: chunked); with the
 * target's flags (the floor's `--keep-open`: each connection stays open, idle, after its answer).
 */
async function loadgenHolder(port: number, n: number, rate: number, durationSeconds: number, flags: string[] = []): Promise<Holder> {
  const args = [`${REPO}loadgen/cli.ts`, `--url=http://127.0.0.1:${port}/test/{i}`, `--count=${n}`, '--procs=1', '--hold', '--control-port=0', `--duration=${Math.ceil(durationSeconds)}s`, '--report-every=600s', ...flags];
  const lg = await startWithReadyLine<{ controlPort: number; controlTokenFile: string }>(NODE, args, readyPrefix('loadgen'), 30_000, { cwd: REPO });
  const base = `http://127.0.0.1:${lg.info.controlPort}`;
  const token = controlTokenOf(lg.info);
  await postJson(`${base}/ramp`, { target: n, rate }, token);
  return {
    async held() {
      const s = await getJson<LoadgenStatus>(`${base}/status`);
      const byCause: Record<string, number> = Object.fromEntries(Object.entries(s.errors).filter(([, v]) => v > 0));
      if (s.closed) byCause.closed = s.closed;
      return { held: s.active, errors: Object.values(s.errors).reduce((a, b) => a + b, 0) + s.closed, byCause };
    },
    async stop() {
      await postJson(`${base}/stop`, {}, token).catch(() => undefined);
      await exited(lg.proc, 5000);
    },
  };
}

function pidsIn(cg: ComponentCgroup): number {
  try {
    return readFileSync(`${cg.path}/cgroup.procs`, 'latin1').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/**
 * TIME_WAIT sockets a memory target may start with: what one earlier target's 15,000-connection teardown leaves was
 * harmless; 98,000 were not. Fewer connections leave more of the 28,232 ephemeral ports free.
 */
const timeWaitOk = (n: number) => Math.max(20_000, 28_000 - n);

/**
 * Waits (at most `maxSeconds`; TIME_WAIT lasts 60 s on Linux) until the host's TIME_WAIT sockets are few. After another
 * flood's teardown there were 98,000 of them here, holding the ports a client walks, and a target then held only
 * 8,253 of 15,000 connections. Returns the count it started with.
 */
export async function waitForTimeWait(n: number, maxSeconds: number, signal: AbortSignal, onProgress?: (text: string) => void): Promise<number> {
  const until = Date.now() + maxSeconds * 1000;
  let tw = readSockstat().tw;
  while (tw > timeWaitOk(n) && Date.now() < until) {
    onProgress?.(`waiting for ${tw} TIME_WAIT sockets to expire (they hold client ports)`);
    await sleep(1000, undefined, { signal });
    tw = readSockstat().tw;
  }
  return tw;
}

/** Connections opened and closed before the baseline (server/bench/memory-bench.ts uses the same number). */
const WARM_UP = 500;

/**
 * An engine through the server's own bench (server/bench/memory-bench.ts, `make bench-server`): one worker in a
 * cgroup v1 group, 500-stream warm-up, clients (server/bench/hold-streams.ts) outside the group, working set + TCP
 * buffer growth / streams after `settle` and a full GC in every server process (its default). User space is the RSS growth
 * of the server's processes; kernel is the rest.
 */
async function measureEngine(engine: string, opts: MemoryStageOptions): Promise<MemoryTargetResult> {
  const timeWaitAtStart = await waitForTimeWait(opts.n, opts.portDrainSeconds, opts.signal, opts.onProgress);
  const bench = new MemoryBench();
  bench.on('phase', (e, phase) => opts.onProgress?.(`${e}: ${phase}`));
  const onAbort = () => void bench.cleanup();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const t0 = Date.now();
  try {
    const [r] = await bench.run({ engines: [engine as EngineName], connections: opts.n, clients: 2, settleMs: 3000, explicitGc: true });
    opts.signal.throwIfAborted();
    if (!r || r.held === 0) throw new LabError('LAB_ERR_NOTHING_HELD', `${engine}: no stream was held`);
    const p = r.perStream;
    const whole = (f: typeof r.after) => f.workingSetBytes + f.tcpBytes;
    return {
      target: engine,
      kind: 'engine',
      asked: opts.n,
      held: r.held,
      errors: opts.n - r.held,
      errorsByCause: opts.n > r.held ? { 'not held (server bench client)': opts.n - r.held } : {},
      timeWaitAtStart,
      rampSeconds: (Date.now() - t0) / 1000,
      before: { usage: r.before.workingSetBytes, inactiveFile: 0, kmem: NaN, tcp: r.before.tcpBytes, total: whole(r.before) },
      after: { usage: r.after.workingSetBytes, inactiveFile: 0, kmem: NaN, tcp: r.after.tcpBytes, total: whole(r.after) },
      perConnection: { total: p.whole, user: p.rss, kernel: p.whole - p.rss },
      sockstatTcpPerConnection: p.sockstat,
      totalPerConnection: whole(r.after) / r.held,
      processes: 2,
      method: 'server/bench/memory-bench.ts (make bench-server), full GC before each reading',
    };
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    await bench.cleanup();
  }
}

/** Measures one target; everything it starts (processes, cgroup, nginx folder) is gone when it returns or throws. */
export async function measureIdleMemory(target: MemoryTarget, opts: MemoryStageOptions): Promise<MemoryTargetResult> {
  if (target.kind === 'engine') return measureEngine(target.engine, opts);
  const layout = detectCgroup();
  if (!layout || layout.version !== 'v1') {
    throw new LabError('LAB_ERR_NO_CGROUP', 'the memory stage needs a writable cgroup v1 memory controller (/sys/fs/cgroup/memory)', {
      exitCode: EXIT.preflight,
      hint: 'run as root on a host with the v1 memory controller, or skip the stage (--only flood,fanout,sends)',
    });
  }
  // Before the group exists: an interrupt during the wait then has nothing to clean up.
  const timeWaitAtStart = await waitForTimeWait(opts.n, opts.portDrainSeconds, opts.signal, opts.onProgress);
  const run = `bench-${process.pid}`;
  const name = targetName(target).replace(/[^a-z0-9]+/gi, '-');
  const reference = referenceTarget(target.kind);
  await reference.preflight();
  const port = await freePortBelow(32768);
  const cg = new ComponentCgroup(layout, run, name);
  const rampBudgetMs = (opts.n / opts.rate) * 3000 + 30_000;
  const lifetime = rampBudgetMs / 1000 + 120;
  let launched: LaunchedServer | undefined;
  let holder: Holder | undefined;
  let warm: Holder | undefined;
  const hold = (n: number, rate: number, seconds: number) => loadgenHolder(port, n, rate, seconds, reference.loadgenFlags);
  try {
    const plan = standalonePlan(opts.n + WARM_UP, { heartbeatIntervalMs: opts.intervalSeconds * 1000, fdLimit: 20_000 });
    launched = await reference.launchLocal!({ plan, port, wrap: (c) => cg.wrapCommand(c, 20_000), runId: run, cwd: REPO, broadcast: false });
    // The same warm-up as the server's bench: WARM_UP connections opened and closed before the baseline, so one-time
    // costs (pages touched, pools and tables first sized) are not charged to the connections measured.
    opts.onProgress?.(`${targetName(target)}: warm-up, ${WARM_UP} connections opened and closed`);
    warm = await hold(WARM_UP, WARM_UP, 60);
    for (let i = 0; i < 100; i++) {
      const w = await warm.held();
      if (w.held + w.errors >= WARM_UP) break;
      await sleep(100, undefined, { signal: opts.signal });
    }
    await warm.stop();
    warm = undefined;
    await sleep(1000, undefined, { signal: opts.signal }); // let the runtime finish starting before the baseline
    const before = readCgroupMemory(cg.path);
    const sockBefore = readSockstat().memBytes;
    const t0 = Date.now();
    holder = await hold(opts.n, opts.rate, lifetime);
    let state = await holder.held();
    while (state.held + state.errors < opts.n) {
      if (Date.now() - t0 > rampBudgetMs) break;
      opts.onProgress?.(`${targetName(target)}: ${state.held}/${opts.n} held`);
      await sleep(500, undefined, { signal: opts.signal });
      state = await holder.held();
    }
    const rampSeconds = (Date.now() - t0) / 1000;
    await sleep(3000, undefined, { signal: opts.signal }); // late allocations (first heartbeat buffers, slab growth)
    state = await holder.held();
    const after = readCgroupMemory(cg.path);
    const sockAfter = readSockstat().memBytes;
    if (state.held === 0) throw new LabError('LAB_ERR_NOTHING_HELD', `${targetName(target)}: no connection was held (errors: ${state.errors})`);
    return {
      target: targetName(target),
      kind: target.kind,
      asked: opts.n,
      held: state.held,
      errors: state.errors,
      errorsByCause: state.byCause,
      timeWaitAtStart,
      rampSeconds,
      before,
      after,
      perConnection: perConnection(before, after, state.held),
      totalPerConnection: after.total / state.held,
      sockstatTcpPerConnection: (sockAfter - sockBefore) / state.held,
      processes: pidsIn(cg),
      method: `${reference.name} (orchestrator/targets/) in its own cgroup v1 group, 500-connection warm-up, user = growth - kmem`,
    };
  } finally {
    await warm?.stop().catch(() => undefined); // interrupted during the warm-up
    await holder?.stop().catch(() => undefined);
    await launched?.stop().catch(() => undefined);
    await cg.remove().catch(() => undefined);
    try {
      removeRunDir(layout, run);
    } catch {
      // another target's group of this run is still there; its own finally removes the folder
    }
  }
}
