/**
 * Benchmark: the connect rate at the start and at the end of a ramp, to show it stays flat while source ports fill.
 * Starts the comet server with `--workers` (or, with `--server hold`, that many hold servers sharing one port by
 * reusePort), one load generator with `--procs`, ramps `--n`
 * connections unpaced over `--source-ips`, samples GET /status every 100 ms and prints the rate every second,
 * then the mean rate over the first and the last 10% of the connections.
 *
 *   flock /tmp/comet-lab-heavy.lock node_modules/.bin/node loadgen/bench/connect-rate.ts \
 *     --n 100000 --procs 6 --workers 6 --source-ips 127.0.0.2-127.0.0.9
 *   one process filling two whole port ranges:
 *     ... connect-rate.ts --n 19000 --procs 1 --workers 1 --source-ips 127.0.0.2-127.0.0.3 --local-ports 50000-59499
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { startWithReadyLine, type Started } from '../../shared/testing/ready-process.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from './bench-support.ts';
import { readyPrefix } from '../../shared/ready-line.ts';

const HERE = (p: string) => fileURLToPath(new URL(p, import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '100000' },
      procs: { type: 'string', default: '6' },
      workers: { type: 'string', default: '6' },
      'source-ips': { type: 'string', default: '127.0.0.2-127.0.0.9' },
      'local-ports': { type: 'string' },
      'max-connecting': { type: 'string', default: '2000' },
      server: { type: 'string', default: 'comet' },
    },
  });
  const n = Number(values.n);
  const servers: Array<Started<{ port: number }>> = [];
  let loadgen: Started<{ controlPort: number; controlTokenFile?: string }> | undefined;
  try {
    if (values.server === 'comet') {
      // The comet server (server/cli.ts) listens on 127.0.0.1; the clients bind other addresses, so no port clash.
      const args = [HERE('../../server/cli.ts'), '--host', '127.0.0.1', '--port', '0', '--workers', values.workers, '--max-connections', String(n), '--interval', '60s'];
      servers.push(await startWithReadyLine(NODE, args, readyPrefix('server'), 60_000));
    } else {
      servers.push(await startWithReadyLine(NODE, [HERE('./hold-server.ts'), '--port', '0', '--reuse-port'], 'hold-server ready '));
      for (let k = 1; k < Number(values.workers); k++) {
        servers.push(await startWithReadyLine(NODE, [HERE('./hold-server.ts'), '--port', String(servers[0]!.info.port), '--reuse-port'], 'hold-server ready '));
      }
    }
    const port = servers[0]!.info.port;
    console.log(`server: ${values.server} on port ${port}, ${values.workers} processes`);
    const args = [HERE('../cli.ts'), '--url', `http://127.0.0.1:${port}/test/{i}`, '--count', String(n), '--hold', '--procs', values.procs, '--source-ips', values['source-ips'], '--max-connecting', values['max-connecting'], '--control-port', '0', '--duration', '900', '--report-every', '900s'];
    if (values['local-ports']) args.push('--local-ports', values['local-ports']);
    loadgen = await startWithReadyLine(NODE, args, readyPrefix('loadgen'), 60_000);
    const base = `http://127.0.0.1:${loadgen.info.controlPort}`;
    const token = controlTokenOf(loadgen.info);
    const samples: Array<{ t: number; done: number }> = [];
    const t0 = Date.now();
    await postJson(`${base}/ramp`, { target: n, rate: 0 }, token);
    let s: LoadgenStatus;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      s = await getJson<LoadgenStatus>(`${base}/status`);
      const failed = Object.values(s.errors).reduce((a, b) => a + b, 0);
      samples.push({ t: (Date.now() - t0) / 1000, done: s.active + failed });
      const prev = samples.at(-2)?.done ?? 0;
      const dt = samples.length > 1 ? samples.at(-1)!.t - samples.at(-2)!.t : samples.at(-1)!.t;
      if (samples.length % 10 === 0 || s.active + failed >= n) {
        console.log(`t=${samples.at(-1)!.t.toFixed(1)}s active=${s.active} failed=${failed} rate=${((samples.at(-1)!.done - prev) / dt).toFixed(0)}/s`);
      }
      if (s.active + failed >= n || Date.now() - t0 > 600_000) break;
    }
    // When the count reached `x`: linear between the samples around it (the ramp starts at t=0 with 0).
    const timeAt = (x: number) => {
      let prev = { t: 0, done: 0 };
      for (const cur of samples) {
        if (cur.done >= x) return prev.t + ((x - prev.done) / Math.max(1, cur.done - prev.done)) * (cur.t - prev.t);
        prev = cur;
      }
      return NaN;
    };
    const rateBetween = (from: number, to: number) => (to - from) / (timeAt(to) - timeAt(from));
    const total = samples.at(-1)!.done;
    console.log(`\nconnections: ${s.active} active of ${n}; errors ${JSON.stringify(s.errors)}`);
    console.log(`overall: ${(total / samples.at(-1)!.t).toFixed(0)} connections/s (${samples.at(-1)!.t.toFixed(1)} s)`);
    const deciles = Array.from({ length: 10 }, (_, k) => rateBetween(k * 0.1 * n, (k + 1) * 0.1 * n).toFixed(0));
    console.log(`by tenth of the ramp (/s): ${deciles.join(' ')}`);
    console.log(`first 10%: ${deciles[0]} /s (includes the ramp request and warm-up)   last 10%: ${deciles[9]} /s`);
    await postJson(`${base}/stop`, {}, token);
    await exited(loadgen.proc, 20_000);
  } finally {
    loadgen?.proc.kill('SIGKILL');
    for (const s of servers) {
      s.proc.stdin!.end();
      s.proc.kill(values.server === 'comet' ? 'SIGINT' : 'SIGTERM');
    }
    await Promise.all(servers.map((s) => exited(s.proc)));
    if (loadgen) await exited(loadgen.proc);
  }
}

await main();
