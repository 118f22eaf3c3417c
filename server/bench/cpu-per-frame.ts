/**
 * CPU per heartbeat, chunked beside WebSocket: one server worker (raw engine) heartbeats N idle streams every
 * --interval while one load-generator process (outside it) parses them; after the ramp and a settle, the CPU time
 * of each side's process tree (/proc/<pid>/stat, user + system) over --hold is divided by the heartbeats the side
 * counted in that time (server: /stats chunksSent; load generator: /status chunks). A simple measured figure: both
 * sides share the machine's cores, the supervisor's and the control port's own work is included.
 *
 *   flock /tmp/comet-lab-heavy.lock node_modules/.bin/node server/bench/cpu-per-frame.ts [--n 10000] [--interval 1s] [--hold 20s] [--transports chunked,ws]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startWithReadyLine } from '../../shared/testing/ready-process.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from '../../loadgen/bench/bench-support.ts';
import { treeUsage } from '../../orchestrator/backends/probes/process-tree.ts';
import type { LoadgenStatus, ServerStats, Transport } from '../../shared/contracts.ts';
import { parseDurationMs } from '../../shared/duration.ts';
import { readyPrefix } from '../../shared/ready-line.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PATH: Partial<Record<Transport, string>> = { chunked: 'test', sse: 'sse', ws: 'ws' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  transport: string;
  held: number;
  seconds: number;
  serverChunks: number;
  serverUs: number;
  loadgenChunks: number;
  loadgenUs: number;
}

async function measure(transport: Transport, n: number, intervalMs: number, holdMs: number): Promise<Result> {
  const server = await startWithReadyLine<{ port: number; pid: number }>(
    NODE,
    ['--max-semi-space-size=1', `${REPO}server/cli.ts`, '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--engine', 'raw', '--interval', `${intervalMs}ms`, '--max-connections', String(n)],
    readyPrefix('server'),
    20_000,
    { env: { ...process.env, COMET_ADMIN_TOKEN: '' } },
  );
  let lg: Awaited<ReturnType<typeof startWithReadyLine<{ controlPort: number; controlTokenFile?: string }>>> | undefined;
  try {
    const url = `http://127.0.0.1:${server.info.port}/${PATH[transport]}/{i}`;
    lg = await startWithReadyLine<{ controlPort: number; controlTokenFile?: string }>(
      NODE,
      [`${REPO}loadgen/cli.ts`, '--url', url, '--transport', transport, '--count', String(n), '--procs', '1', '--hold', '--source-ips', '127.0.0.2', '--control-port', '0', '--duration', '600s', '--report-every', '600s'],
      readyPrefix('loadgen'),
      30_000,
      { env: { ...process.env, NODE_OPTIONS: '--max-semi-space-size=1' } },
    );
    const base = `http://127.0.0.1:${lg.info.controlPort}`;
    await postJson(`${base}/ramp`, { target: n, rate: 5000 }, controlTokenOf(lg.info));
    await waitFor(`${n} active`, async () => (await getJson<LoadgenStatus>(`${base}/status`)).active === n, 60_000, { everyMs: 250 });
    await sleep(Math.max(3000, 2 * intervalMs)); // past the ramp's welcomes and the idle GC it triggers
    const read = async () => ({
      at: Date.now(),
      server: treeUsage(server.info.pid).cpuSeconds,
      loadgen: treeUsage(lg!.proc.pid!).cpuSeconds,
      sent: (await getJson<ServerStats>(`http://127.0.0.1:${server.info.port}/stats`)).chunksSent,
      got: (await getJson<LoadgenStatus>(`${base}/status`)).chunks,
    });
    const a = await read();
    await sleep(holdMs);
    const b = await read();
    const held = (await getJson<LoadgenStatus>(`${base}/status`)).active;
    await postJson(`${base}/stop`, {});
    return {
      transport,
      held,
      seconds: (b.at - a.at) / 1000,
      serverChunks: b.sent - a.sent,
      serverUs: ((b.server - a.server) * 1e6) / (b.sent - a.sent),
      loadgenChunks: b.got - a.got,
      loadgenUs: ((b.loadgen - a.loadgen) * 1e6) / (b.got - a.got),
    };
  } finally {
    lg?.proc.kill('SIGTERM');
    server.proc.kill('SIGTERM');
    if (lg) await exited(lg.proc, 5000);
    await exited(server.proc, 8000);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '10000' }, interval: { type: 'string', default: '1s' }, hold: { type: 'string', default: '20s' }, transports: { type: 'string', default: 'chunked,ws' } } });
  const n = Number(values.n);
  const intervalMs = parseDurationMs(values.interval);
  const holdMs = parseDurationMs(values.hold);
  const transports = values.transports.split(',').map((t) => t.trim()) as Transport[];
  const problems: string[] = [];
  if (!Number.isInteger(n) || n < 1 || n > 19_000) problems.push('--n: 1-19000 (one worker, one load-generator process)');
  if (!(intervalMs >= 10)) problems.push('--interval: a duration of at least 10ms');
  if (!(holdMs >= 1000)) problems.push('--hold: a duration of at least 1s');
  for (const t of transports) if (PATH[t] === undefined) problems.push(`--transports: ${t}: chunked, sse or ws (streams that heartbeat)`);
  if (problems.length > 0) {
    process.stderr.write(`cpu-per-frame: ${problems.join('\ncpu-per-frame: ')}\n`);
    process.exit(2);
  }
  const results: Result[] = [];
  for (const t of transports) {
    process.stderr.write(`[${t}] ${n} streams, heartbeat ${intervalMs} ms, measuring ${holdMs / 1000} s\n`);
    results.push(await measure(t, n, intervalMs, holdMs));
  }
  process.stdout.write(`\nCPU per heartbeat, ${n} streams on one raw worker, every ${intervalMs} ms (µs of CPU per heartbeat written / parsed)\n`);
  process.stdout.write('transport     held  seconds  server sent  server µs  loadgen got  loadgen µs  total µs\n');
  for (const r of results) {
    process.stdout.write(
      `${r.transport.padEnd(9)} ${String(r.held).padStart(8)} ${r.seconds.toFixed(1).padStart(8)} ${String(r.serverChunks).padStart(12)} ${r.serverUs.toFixed(2).padStart(10)} ${String(r.loadgenChunks).padStart(12)} ${r.loadgenUs.toFixed(2).padStart(11)} ${(r.serverUs + r.loadgenUs).toFixed(2).padStart(9)}\n`,
    );
  }
}

await main();
