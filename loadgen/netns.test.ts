/**
 * More connections to one server port than one source address's port range allows. The test makes its own network
 * namespace with a narrow ephemeral range (net.* sysctls are per namespace, so the host is untouched), runs a server
 * and the load generator inside, and deletes the namespace afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus } from '../shared/contracts.ts';
import { startWithReadyLine, type Started } from '../shared/testing/ready-process.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { controlTokenOf, exited, NODE } from './bench/bench-support.ts';
import { readyPrefix } from '../shared/ready-line.ts';

const NS = `comet-lab-loadgen-${process.pid}`;
const HERE = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const RANGE = [40000, 40999]; // 1,000 ports per source address
const started: Started<unknown>[] = [];

const inNs = (...cmd: string[]) => ['netns', 'exec', NS, ...cmd];

before(() => {
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', inNs('ip', 'link', 'set', 'lo', 'up'));
  execFileSync('ip', inNs('sysctl', '-q', '-w', `net.ipv4.ip_local_port_range=${RANGE[0]} ${RANGE[1]}`));
});

after(async () => {
  for (const s of started) {
    s.proc.stdin?.end();
    s.proc.kill('SIGKILL');
    await exited(s.proc, 2000);
  }
  execFileSync('ip', ['netns', 'del', NS]);
});

function establishedInNs(port: number): string[] {
  const out = execFileSync('ip', inNs('ss', '-Htan', 'state', 'established', `( dport = :${port} )`), { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '');
}

// Control ports outside the narrow range: the first run's closed connections sit in TIME_WAIT on every port of it.
let controlPort = 9000;

async function loadgen(args: string[]): Promise<Started<{ controlPort: number; controlTokenFile: string }>> {
  const lg = await startWithReadyLine<{ controlPort: number; controlTokenFile: string }>('ip', inNs(NODE, HERE('./cli.ts'), ...args, '--control-port', String(++controlPort), '--duration', '60', '--rate', '0'), readyPrefix('loadgen'));
  started.push(lg);
  return lg;
}

test('3 source addresses hold 2,500 connections where one address runs out at 1,000 ports', { timeout: 60_000 }, async () => {
  const server = await startWithReadyLine<{ port: number }>('ip', inNs(NODE, HERE('./bench/hold-server.ts'), '--port', '8000'), 'hold-server ready ');
  started.push(server);
  const url = `http://127.0.0.1:${server.info.port}/test/{i}`;

  // One address: the kernel's range (read inside the namespace) is the limit.
  const one = await loadgen(['--url', url, '--count', '1500']);
  let base = `http://127.0.0.1:${one.info.controlPort}`;
  // The control port is reachable only inside the namespace: ask it with a node one-liner run there.
  let token = controlTokenOf(one.info);
  const ask = (u: string, body?: unknown) => {
    const post = `{method:'POST',headers:{authorization:${JSON.stringify(`Bearer ${token}`)}},body:${JSON.stringify(JSON.stringify(body))}}`;
    const script = body === undefined ? `fetch(${JSON.stringify(u)}).then(r=>r.text()).then(t=>process.stdout.write(t))` : `fetch(${JSON.stringify(u)},${post}).then(r=>r.text()).then(t=>process.stdout.write(t))`;
    return JSON.parse(execFileSync('ip', inNs(NODE, '-e', script), { encoding: 'utf8' })) as LoadgenStatus;
  };
  ask(`${base}/ramp`, { target: 1500, rate: 0 });
  await waitFor('1,500 attempts settled', () => ask(`${base}/status`).connecting === 0 && ask(`${base}/status`).rampDone, 20_000);
  let s = ask(`${base}/status`);
  assert.ok(s.active > 990 && s.active <= 1000, `one address holds at most its 1,000 ports: ${s.active}`);
  assert.equal(s.errors.addrnotavail, 1500 - s.active, 'the rest fail with EADDRNOTAVAIL, counted');
  ask(`${base}/stop`, {});
  assert.equal(await exited(one.proc), 0);

  // Three addresses: each has its own range, and the load generator picks the ports itself.
  const three = await loadgen(['--url', url, '--count', '2500', '--source-ips', '127.0.0.2-127.0.0.4']);
  base = `http://127.0.0.1:${three.info.controlPort}`;
  token = controlTokenOf(three.info);
  ask(`${base}/ramp`, { target: 2500, rate: 0 });
  await waitFor('2,500 active', () => ask(`${base}/status`).active === 2500, 20_000, { describe: () => ask(`${base}/status`) });
  s = ask(`${base}/status`);
  assert.ok(Object.values(s.errors).every((n) => n === 0), JSON.stringify(s.errors));
  const lines = establishedInNs(server.info.port);
  assert.equal(lines.length, 2500, 'ss in the namespace agrees');
  const bySource = new Map<string, number>();
  for (const l of lines) {
    const local = l.trim().split(/\s+/)[2]!;
    const [addr, port] = [local.slice(0, local.lastIndexOf(':')), Number(local.slice(local.lastIndexOf(':') + 1))];
    assert.ok(port >= RANGE[0]! && port <= RANGE[1]!, `port ${port} within the namespace's range`);
    bySource.set(addr, (bySource.get(addr) ?? 0) + 1);
  }
  assert.deepEqual([...bySource.keys()].sort(), ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  for (const n of bySource.values()) assert.ok(n > 800 && n <= 1000);
  server.proc.stdin!.write('count\n');
  await waitFor('server count', () => server.lines.includes('open 2500'), 5000, { everyMs: 50 });
  ask(`${base}/stop`, {});
  assert.equal(await exited(three.proc), 0);
});
