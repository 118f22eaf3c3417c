/**
 * Measures the two host costs kernel/costs.ts plans with: kernel memory per idle loopback TCP socket (slab growth,
 * per cache from /proc/slabinfo and in total from /proc/meminfo) and the resident memory of an idle Node 24 process.
 * Bounded: K connections (default 5000, both ends in this process, so K <= 9000 under nofile 20000), R rounds,
 * everything closed before it exits. Heavy: run it under `flock /tmp/comet-lab-heavy.lock`.
 *   node_modules/.bin/node kernel/bench/socket-cost.ts [--connections 5000] [--rounds 3]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const CACHES = ['TCP', 'sock_inode_cache', 'filp', 'dentry', 'eventpoll_epi', 'eventpoll_pwq', 'kmalloc-64', 'kmalloc-192'];

function slab(): { caches: Map<string, number>; slabBytes: number } {
  const caches = new Map<string, number>();
  for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
    const f = line.split(/\s+/);
    if (CACHES.includes(f[0])) caches.set(f[0], Number(f[1]) * Number(f[3])); // active objects x object size
  }
  const slabKb = Number(readFileSync('/proc/meminfo', 'utf8').match(/^Slab:\s+(\d+)/m)?.[1]);
  return { caches, slabBytes: slabKb * 1024 };
}

async function holdConnections(k: number): Promise<{ perSocket: Record<string, number>; slabPerSocket: number }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => void accepted.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 65535, resolve));
  const port = (server.address() as { port: number }).port;
  const before = slab();
  const clients: Socket[] = [];
  try {
    for (let i = 0; i < k; i += 200) {
      const batch = Array.from({ length: Math.min(200, k - i) }, () => new Promise<Socket>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      }));
      clients.push(...(await Promise.all(batch)));
    }
    while (accepted.length < k) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    const after = slab();
    const sockets = 2 * k;
    const perSocket: Record<string, number> = {};
    for (const name of CACHES) perSocket[name] = ((after.caches.get(name) ?? 0) - (before.caches.get(name) ?? 0)) / sockets;
    return { perSocket, slabPerSocket: (after.slabBytes - before.slabBytes) / sockets };
  } finally {
    for (const s of [...clients, ...accepted]) s.destroy();
    server.close();
  }
}

async function idleRss(code: string): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${code}; setInterval(() => {}, 1000);`], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const m = readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return Number(m?.[1]) * 1024;
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { connections: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '3' } } });
  const k = Number(values.connections);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(k) || k < 100 || k > 9000 || !Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
    process.stderr.write('usage: socket-cost.ts [--connections 100..9000] [--rounds 1..10]\n');
    process.exit(2);
  }
  const runs: Array<Awaited<ReturnType<typeof holdConnections>>> = [];
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}: ${k} loopback connections\n`);
    runs.push(await holdConnections(k));
    await new Promise((r) => setTimeout(r, 1000)); // let the closed sockets' slab objects be freed
  }
  const perCache = Object.fromEntries(CACHES.map((c) => [c, Math.round(median(runs.map((r) => r.perSocket[c])))]));
  const objects = Object.values(perCache).reduce((a, b) => a + b, 0);
  const slabPerSocket = Math.round(median(runs.map((r) => r.slabPerSocket)));
  const bareRss = await idleRss('');
  const labRss = await idleRss("await import('express'); await import('prom-client');");
  const result = { connections: k, rounds, perCacheBytesPerSocket: perCache, objectBytesPerSocket: objects, slabBytesPerSocket: slabPerSocket, idleNodeRssBytes: bareRss, idleNodeWithExpressRssBytes: labRss };
  for (const [c, b] of Object.entries(perCache)) process.stdout.write(`${c.padEnd(18)} ${String(b).padStart(6)} B/socket\n`);
  process.stdout.write(`objects total      ${String(objects).padStart(6)} B/socket\nslab (meminfo)     ${String(slabPerSocket).padStart(6)} B/socket\n`);
  process.stdout.write(`idle node RSS      ${(bareRss / 2 ** 20).toFixed(1)} MiB; with express + prom-client ${(labRss / 2 ** 20).toFixed(1)} MiB\n`);
  process.stdout.write(`comet-lab bench kernel-socket-cost ${JSON.stringify(result)}\n`);
}

await main();
