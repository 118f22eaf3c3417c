/**
 * `make bench-server`: memory per idle open stream, per engine, at 15,000 streams on one worker.
 * Run it alone: `flock /tmp/comet-lab-heavy.lock node_modules/.bin/node server/bench/memory-per-stream.ts`.
 * Flags: --engines raw,net,http,express  --connections 15000  --clients 2  --settle 3s  --json <file>
 * Transports and the nchan reference: --targets raw:chunked,raw:sse,raw:poll,raw:ws,http:ws,nchan:ws
 * (engine:transport pairs; `nchan` is nginx + nchan, chunked or ws; with --targets, --engines defaults to none).
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT, usageError, LabError } from '../../shared/errors.ts';
import { parseDuration } from '../config.ts';
import { TRANSPORT_NAMES, type Transport } from '../../shared/contracts.ts';
import { ENGINE_NAMES, type EngineName } from '../engines/engine.ts';
import { MemoryCgroup } from './cgroup-v1.ts';
import { MemoryBench, type EngineMemoryResult, type MemoryBenchTarget } from './memory-bench.ts';

const kb = (bytes: number) => (bytes / 1024).toFixed(2);

function row(r: EngineMemoryResult): string {
  const p = r.perStream;
  return `${r.engine.padEnd(8)} ${r.transport.padEnd(9)} ${String(r.held).padStart(7)} ${kb(p.whole).padStart(9)} ${kb(p.workingSet).padStart(10)} ${kb(p.tcp).padStart(7)} ${kb(p.rss).padStart(8)} ${kb(p.sockstat).padStart(13)}`;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('memory-per-stream')
    .option('--engines <list>', `engines to measure with chunked streams (default ${ENGINE_NAMES.join(',')}, none with --targets)`)
    .option('--targets <list>', 'engine:transport pairs, e.g. raw:ws,http:ws,nchan:ws (nchan: nginx + nchan, chunked or ws)')
    .option('--connections <n>', 'streams held by the one worker', '15000')
    .option('--clients <n>', 'client processes holding them (outside the server cgroup)', '2')
    .option('--settle <duration>', 'wait after the last stream opened', '3s')
    .option('--json <file>', 'also write the results as JSON')
    .option('--no-explicit-gc', 'no forced GC before readings: only the server\'s own idle collection (use --settle 5s or more)')
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    throw err;
  }
  const o = program.opts<{ engines?: string; targets?: string; connections: string; clients: string; settle: string; json?: string; explicitGc: boolean }>();
  const problems: string[] = [];
  const engineList = o.engines ?? (o.targets === undefined ? ENGINE_NAMES.join(',') : '');
  const engines = engineList.split(',').map((e) => e.trim()).filter(Boolean) as EngineName[];
  for (const e of engines) if (!ENGINE_NAMES.includes(e)) problems.push(`--engines: unknown engine ${JSON.stringify(e)}`);
  const targets: MemoryBenchTarget[] = [];
  for (const pair of (o.targets ?? '').split(',').map((t) => t.trim()).filter(Boolean)) {
    const [server = '', transport = ''] = pair.split(':');
    const serverOk = (ENGINE_NAMES as readonly string[]).includes(server) || server === 'nchan';
    const transportOk = (TRANSPORT_NAMES as readonly string[]).includes(transport) && (server !== 'nchan' || transport === 'chunked' || transport === 'ws');
    if (!serverOk || !transportOk) problems.push(`--targets: ${JSON.stringify(pair)} is not engine:transport (engines ${ENGINE_NAMES.join(', ')}, nchan; transports ${TRANSPORT_NAMES.join(', ')}; nchan: chunked or ws)`);
    else targets.push({ server: server as EngineName | 'nchan', transport: transport as Transport });
  }
  if (engines.length + targets.length === 0) problems.push('nothing to measure: give --engines or --targets');
  const connections = Number(o.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 19_000) problems.push('--connections: 1-19000 (one worker, 20,000 files)');
  const clients = Number(o.clients);
  if (!Number.isInteger(clients) || clients < 1 || clients > 50) problems.push('--clients: 1-50');
  const settleMs = parseDuration(o.settle);
  if (Number.isNaN(settleMs)) problems.push('--settle: a duration like 3s');
  if (problems.length > 0) throw usageError(problems);
  if (!MemoryCgroup.available()) {
    throw new LabError('LAB_ERR_NO_CGROUP', 'cgroup v1 memory controller not found at /sys/fs/cgroup/memory', { exitCode: EXIT.preflight, hint: 'run as root on a host with cgroup v1 memory' });
  }
  const bench = new MemoryBench();
  bench.on('phase', (engine, phase) => process.stderr.write(`[${engine}] ${phase}\n`));
  const onSignal = () => void bench.cleanup().then(() => process.exit(EXIT.interrupted));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results = await bench.run({ engines, targets, connections, clients, settleMs, explicitGc: o.explicitGc });
  process.stdout.write(`\nMemory per idle stream, ${connections} streams on one worker (KB = 1024 bytes; ${o.explicitGc ? 'full GC before each reading (not nchan)' : 'no forced GC'})\n`);
  process.stdout.write('engine   transport    held  whole KB  user+kmem  tcp KB   RSS KB  sockstat KB*\n');
  for (const r of results) process.stdout.write(`${row(r)}\n`);
  process.stdout.write('whole = cgroup working set (usage - inactive_file) + memory.kmem.tcp; *sockstat counts both ends of each loopback connection\n');
  if (o.json) writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof LabError) {
    process.stderr.write(`memory-per-stream: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`memory-per-stream: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT.failure);
});
