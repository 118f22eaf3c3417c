/**
 * Routed sends and broadcasts against a real server: `--streams` idle streams held by client processes, then
 * autocannon POSTs /send/<id> over keep-alive connections for `--duration`, spread over every held id, then
 * `--broadcasts` broadcasts timed until the server answers (every worker has written it to every stream).
 * Prints sends/s, the API latency, and the server's delivery time (accept -> written). Heavy: run under
 * `flock /tmp/comet-lab-heavy.lock`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Command } from 'commander';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const HOLD = fileURLToPath(new URL('./hold-streams.ts', import.meta.url));

const program = new Command('send-throughput')
  .option('--streams <n>', 'idle streams held (ids bench<c>-<i>)', '2000')
  .option('--workers <n>', 'server workers', '2')
  .option('--engine <name>', 'server engine', 'raw')
  .option('--connections <n>', 'autocannon keep-alive connections', '20')
  .option('--duration <s>', 'seconds of sends', '10')
  .option('--broadcasts <n>', 'broadcasts to time', '5')
  .option('--transport <name>', 'what the held streams speak: chunked, sse, poll or ws', 'chunked')
  .parse();
const o = program.opts<{ streams: string; workers: string; engine: string; connections: string; duration: string; broadcasts: string; transport: string }>();
const streams = Number(o.streams);
const children: ChildProcess[] = [];
const cleanup = () => children.forEach((c) => c.kill('SIGTERM'));
process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});

function line(p: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}`)), 120_000);
    p.stdout!.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    });
  });
}

try {
  const server = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--port', '0', '--workers', o.workers, '--engine', o.engine, '--interval', '3600s'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, COMET_ADMIN_TOKEN: '' } });
  children.push(server);
  const port = Number((await line(server, /"port":(\d+)/))[1]);
  const clients = Math.max(1, Math.ceil(streams / 15000));
  const per = Math.ceil(streams / clients);
  const holders = Array.from({ length: clients }, (_, c) => spawn(process.execPath, [HOLD, '127.0.0.1', String(port), String(per), `bench${c}`, `127.0.0.${c + 2}`, o.transport], { stdio: ['pipe', 'pipe', 'inherit'] }));
  children.push(...holders);
  await Promise.all(holders.map((h) => line(h, /held (\d+)/)));
  const ids = Array.from({ length: clients * per }, (_, i) => `bench${Math.floor(i / per)}-${i % per}`);
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: Number(o.connections),
    duration: Number(o.duration),
    requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, path: `/send/${ids[next++ % ids.length]}`, body: 'hello from autocannon' }) }],
  });
  const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { deliveryMs: { p50: number; p99: number; max: number; count: number } };
  console.log(`sends: ${Math.round(result.requests.average)}/s average over ${o.duration} s, ${result.non2xx} non-2xx, ${result.errors} errors`);
  console.log(`send API latency ms: p50 ${result.latency.p50} p99 ${result.latency.p99} max ${result.latency.max}`);
  console.log(`server delivery ms (accept -> written): p50 ${stats.deliveryMs.p50.toFixed(2)} p99 ${stats.deliveryMs.p99.toFixed(2)} max ${stats.deliveryMs.max.toFixed(2)} (${stats.deliveryMs.count} deliveries)`);
  for (let b = 0; b < Number(o.broadcasts); b++) {
    const t0 = performance.now();
    const r = (await (await fetch(`http://127.0.0.1:${port}/broadcast`, { method: 'POST', body: `broadcast ${b}` })).json()) as { delivered: number };
    console.log(`broadcast ${b}: ${r.delivered} streams in ${(performance.now() - t0).toFixed(1)} ms`);
  }
} finally {
  cleanup();
}
