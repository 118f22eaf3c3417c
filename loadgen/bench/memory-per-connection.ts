/**
 * Benchmark: client memory per held connection (user space + kernel) at N connections in ONE load-generator
 * process. The load generator runs in a memory cgroup (v1) of its own from its first instruction, so the kernel
 * charges it its socket structures and buffers; the figure is (usage at N - usage at 0) / N, with the totals
 * beside it. The connections go to loadgen/bench/hold-server.ts (a raw-handle server in another process). With
 * `--transports chunked,ws` each transport is measured in turn (a fresh load generator and group each); `--io net`
 * measures the net.Socket path instead of raw handles (loadgen/io/).
 *
 *   flock /tmp/comet-lab-heavy.lock node_modules/.bin/node loadgen/bench/memory-per-connection.ts [--n 15000] [--transports chunked,ws] [--io raw|net]
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { startWithReadyLine } from '../../shared/testing/ready-process.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';
import { controlTokenOf, exited, getJson, NODE, postJson } from './bench-support.ts';
import { readyPrefix } from '../../shared/ready-line.ts';

const HERE = (p: string) => fileURLToPath(new URL(p, import.meta.url));
let CG = '';

interface Reading {
  usage: number;
  kmem: number;
  tcp: number;
  workingSet: number;
}

function read(): Reading {
  const num = (f: string) => Number(readFileSync(`${CG}/${f}`, 'utf8'));
  const stat = readFileSync(`${CG}/memory.stat`, 'utf8');
  const inactiveFile = Number(/^total_inactive_file (\d+)/m.exec(stat)?.[1] ?? 0);
  const usage = num('memory.usage_in_bytes');
  return { usage, kmem: num('memory.kmem.usage_in_bytes'), tcp: num('memory.kmem.tcp.usage_in_bytes'), workingSet: usage - inactiveFile };
}

const kb = (bytes: number) => (bytes / 1024).toFixed(2);

const PATHS: Record<string, string> = { chunked: 'http://HOST/test/{i}', ws: 'ws://HOST/ws/{i}' };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '15000' }, rate: { type: 'string', default: '5000' }, transports: { type: 'string', default: 'chunked' }, io: { type: 'string', default: 'raw' } } });
  const transports = values.transports.split(',').map((t) => t.trim());
  const bad = transports.filter((t) => PATHS[t] === undefined);
  if (bad.length > 0) {
    process.stderr.write(`--transports: ${bad.join(', ')}: the hold server speaks chunked and ws\n`);
    process.exit(2);
  }
  const rows: string[] = [];
  for (const transport of transports) rows.push(await measure(transport, Number(values.n), Number(values.rate), values.io));
  console.log(`\nio ${values.io}`);
  console.log('transport   held   per connection (usage delta / N)   user    kernel');
  for (const r of rows) console.log(r);
}

async function measure(transport: string, n: number, rate: number, io: string): Promise<string> {
  CG = `/sys/fs/cgroup/memory/comet-lab-loadgen-bench-${process.pid}-${transport}`;
  console.log(`== ${transport}`);
  mkdirSync(CG);
  const server = await startWithReadyLine<{ port: number }>(NODE, [HERE('./hold-server.ts'), '--port', '0'], 'hold-server ready ');
  let loadgen: Awaited<ReturnType<typeof startWithReadyLine<{ controlPort: number; controlTokenFile?: string }>>> | undefined;
  try {
    // Enter the cgroup before exec, so every page and socket of the load generator is charged there.
    const cli = HERE('../cli.ts');
    const args = [`--url`, PATHS[transport]!.replace('HOST', `127.0.0.1:${server.info.port}`), '--count', String(n), '--hold', '--procs', '1', '--control-port', '0', '--duration', '600', '--report-every', '600s', '--io', io];
    loadgen = await startWithReadyLine<{ controlPort: number; controlTokenFile?: string }>('sh', ['-c', `echo $$ > ${CG}/cgroup.procs && exec "$0" "$@"`, NODE, cli, ...args], readyPrefix('loadgen'));
    const base = `http://127.0.0.1:${loadgen.info.controlPort}`;
    const token = controlTokenOf(loadgen.info);
    await new Promise((r) => setTimeout(r, 2000));
    const before = read();
    const t0 = Date.now();
    await postJson(`${base}/ramp`, { target: n, rate }, token);
    let status: LoadgenStatus | undefined;
    await waitFor(`${n} active`, async () => {
      status = await getJson<LoadgenStatus>(`${base}/status`);
      return status.active + Object.values(status.errors).reduce((a, b) => a + b, 0) >= n;
    }, 120_000);
    const rampSeconds = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const after = read();
    const s = await getJson<LoadgenStatus>(`${base}/status`);
    const d = (k: keyof Reading) => after[k] - before[k];
    console.log(`connections held: ${s.active} of ${n} (errors ${JSON.stringify(s.errors)}), ramp ${rampSeconds.toFixed(1)} s`);
    console.log(`cgroup v1 usage at 0:  ${kb(before.usage)} KB (kmem ${kb(before.kmem)} KB)`);
    console.log(`cgroup v1 usage at N:  ${kb(after.usage)} KB (kmem ${kb(after.kmem)} KB, tcp buffers ${kb(after.tcp)} KB)`);
    console.log(`per connection (usage delta / N):       ${kb(d('usage') / s.active)} KB  [user ${kb((d('usage') - d('kmem')) / s.active)} KB + kernel ${kb(d('kmem') / s.active)} KB]`);
    console.log(`per connection (working-set delta / N): ${kb(d('workingSet') / s.active)} KB`);
    console.log(`per connection (total usage / N):       ${kb(after.usage / s.active)} KB (includes the Node runtime's fixed cost)`);
    await postJson(`${base}/stop`, {}, token);
    await exited(loadgen.proc);
    const per = (k: keyof Reading) => kb(d(k) / s.active);
    return `${transport.padEnd(9)} ${String(s.active).padStart(6)}   ${per('usage').padStart(8)} KB${' '.repeat(25)}${kb((d('usage') - d('kmem')) / s.active).padStart(6)}  ${per('kmem').padStart(6)}`;
  } finally {
    loadgen?.proc.kill('SIGKILL');
    server.proc.stdin!.end();
    server.proc.kill('SIGTERM');
    await exited(server.proc);
    if (loadgen) await exited(loadgen.proc);
    await new Promise((r) => setTimeout(r, 200));
    try {
      rmdirSync(CG);
    } catch {
      writeFileSync(`${CG}/memory.force_empty`, '0');
      rmdirSync(CG);
    }
  }
}

await main();
