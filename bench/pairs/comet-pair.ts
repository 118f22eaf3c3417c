/**
 * comet-lab as a bench Pair: the server (server/cli.ts, raw engine by default, `processes` workers) and the load
 * generator (loadgen/cli.ts, `processes` processes, each with its own source address), started as a user would.
 * The server runs with an admin token (random per run) so send and broadcast work whatever the server requires.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { controlTokenOf, exited, getJson, postJson, startWithReadyLine, type Started } from '../../loadgen/bench/bench-support.ts';
import { freePortBelow } from '../../orchestrator/backends/local/free-port.ts';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { readyPrefix } from '../../shared/ready-line.ts';
import { clientSource, type Pair, type PairSpec } from './pair.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;

export interface CometPairOptions {
  engine?: string;
  /** Extra environment for the server (e.g. COMET_WORKER_NODE_FLAGS for a --cpu-prof run). */
  serverEnv?: NodeJS.ProcessEnv;
  /** Extra Node flags for the load generator's processes. */
  loadgenNodeFlags?: string[];
  /** Extra server flags. */
  serverArgs?: string[];
}

export async function startCometPair(spec: PairSpec, options: CometPairOptions = {}): Promise<Pair> {
  const port = await freePortBelow(32768);
  const token = randomBytes(12).toString('hex');
  let server: Started<{ pid: number }> | undefined;
  let loadgen: Started<{ controlPort: number; controlTokenFile: string; pid: number }> | undefined;
  let control = '';
  // The load generator's control POSTs answer 401 without the token it wrote to the file its ready line names.
  let controlToken: string | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (loadgen) {
        await postJson(`${control}/stop`, {}, controlToken).catch(() => loadgen!.proc.kill('SIGTERM'));
        await exited(loadgen.proc, 5000);
      }
      if (server) {
        server.proc.kill('SIGTERM');
        await exited(server.proc, 8000);
      }
    })());
  try {
    server = await startWithReadyLine<{ pid: number }>(
      NODE,
      [
        '--max-semi-space-size=1',
        `${REPO}server/cli.ts`,
        '--host', '127.0.0.1',
        '--port', String(port),
        '--workers', String(spec.processes),
        '--interval', `${spec.intervalMs}ms`,
        '--engine', options.engine ?? 'raw',
        '--max-connections', String(spec.n),
        ...(options.serverArgs ?? []),
      ],
      readyPrefix('server'),
      60_000,
      { cwd: REPO, env: { ...process.env, COMET_ADMIN_TOKEN: token, ...options.serverEnv } },
    );
    const path = spec.transport === 'chunked' ? '/test/{i}' : `/${spec.transport}/{i}`;
    const sources = Array.from({ length: spec.processes }, (_, k) => clientSource('comet-lab', k)).join(',');
    loadgen = await startWithReadyLine<{ controlPort: number; controlTokenFile: string; pid: number }>(
      NODE,
      [
        ...(options.loadgenNodeFlags ?? []),
        `${REPO}loadgen/cli.ts`,
        `--url=http://127.0.0.1:${port}${path}`,
        `--count=${spec.n}`,
        `--procs=${spec.processes}`,
        `--transport=${spec.transport}`,
        `--source-ips=${sources}`,
        '--hold',
        '--control-port=0',
        '--duration=3600s',
        '--report-every=3600s',
      ],
      readyPrefix('loadgen'),
      60_000,
      { cwd: REPO },
    );
    control = `http://127.0.0.1:${loadgen.info.controlPort}`;
    controlToken = controlTokenOf(loadgen.info);
    await postJson(`${control}/ramp`, { target: spec.n, rate: 0 }, controlToken);
  } catch (err) {
    await stop();
    throw err;
  }
  const api = `http://127.0.0.1:${port}`;
  return {
    impl: 'comet-lab',
    spec,
    roots: { server: [server.proc.pid!], client: [loadgen.proc.pid!] },
    async totals() {
      const s = await getJson<LoadgenStatus>(`${control}/status`);
      const failed = Object.values(s.errors).reduce((a, b) => a + b, 0);
      return { active: s.active, failed, chunks: s.chunks, messages: s.messages, lastMessageAtMs: s.lastMessageAtMs, p50Ms: s.latencyMs.p50, p99Ms: s.latencyMs.p99, maxMs: s.latencyMs.max };
    },
    async broadcast(body) {
      const res = await fetch(`${api}/broadcast`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, signal: AbortSignal.timeout(120_000) });
      if (!res.ok) throw new Error(`POST /broadcast: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    },
    async resetLatency() {
      await postJson(`${control}/latency/reset`, {}, controlToken);
    },
    stop,
  };
}
