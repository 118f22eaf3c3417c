// The doctor end to end on this host (real /proc, a real listener, a real network namespace) and its CLI contract.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { main } from './cli.ts';
import { buildDoctorReport } from './doctor.ts';
import { parseListeningPorts, parseNofile, readHostLimits, readListeningPorts } from './host-limits.ts';
import { loadProfile } from './profile.ts';
import { addNamespace, deleteNamespace, namespaceName } from './test-netns.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function inProcess(args: string[], color = false) {
  let out = '';
  let err = '';
  const code = await main(args, { env: {}, out: (s) => void (out += s), err: (s) => void (err += s), color });
  return { code, out, err };
}

describe('doctor', () => {
  it('--json reports every limit as read from this host, and the largest N', () => {
    const r = run(['doctor', '--json', '--n', '1000000']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const ids = report.rows.map((x: { id: string }) => x.id);
    for (const id of ['nofile', 'nr-open', 'file-max', 'ports', 'listeners-in-range', 'somaxconn', 'syn-backlog',
      'netdev-backlog', 'tcp-mem', 'tcp-rmem', 'tcp-wmem', 'conntrack', 'memory', 'cores', 'cgroup']) {
      assert.ok(ids.includes(id), id);
    }
    const { hard } = parseNofile(readFileSync('/proc/self/limits', 'utf8'));
    assert.equal(report.processes.connectionsPerProcess, hard - 200);
    assert.equal(report.processes.server, Math.ceil(1_000_000 / (hard - 200)));
    const fileMax = report.rows.find((x: { id: string }) => x.id === 'file-max');
    assert.match(fileMax.current, new RegExp(`^${Number(readFileSync('/proc/sys/fs/file-max', 'utf8')).toLocaleString('en-US')} `));
    assert.equal(fileMax.profileValue, '4194304');
    assert.ok(report.maxN > 0 && Number.isSafeInteger(report.maxN));
    assert.ok(ids.includes(report.limitedBy));
    assert.match(report.verdict, /largest N this host holds as it stands: [\d,]+, limited by /);
  });

  it('prints a plain table off a terminal and a coloured one on a terminal', async () => {
    const plain = run(['doctor', '--n', '50000']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /\x1b\[/);
    assert.match(plain.stdout, /^STATUS +SETTING +CURRENT +PROFILE c1m$/m);
    assert.match(plain.stdout, /hard nofile [\d,]+: .* 50,000 connections need at least \d+ server processes/);
    const coloured = await inProcess(['doctor', '--n', '50000', '--profile', 'seed'], true);
    assert.equal(coloured.code, 0);
    assert.match(coloured.out, /\x1b\[/);
    assert.match(coloured.out, /PROFILE seed/);
  });

  it('sees a real listener inside ip_local_port_range and suggests reserving it', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)); // port 0: the kernel picks from the range
    try {
      const port = (server.address() as { port: number }).port;
      const limits = readHostLimits();
      assert.ok(limits.listenersInPortRange.includes(port), `${port} in ${limits.listenersInPortRange}`);
      const row = buildDoctorReport(limits, loadProfile('c1m'), { n: 1000 }).rows.find((x) => x.id === 'listeners-in-range');
      assert.equal(row?.severity, 'warn');
      assert.match(row?.meaning ?? '', new RegExp(`ip_local_reserved_ports = .*\\b${port}\\b`));
    } finally {
      server.close();
    }
  });

  it('reads only LISTEN sockets from /proc/net/tcp, stopping before the established ones', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const clients: Socket[] = [];
    try {
      const port = (server.address() as { port: number }).port;
      for (let i = 0; i < 50; i++) {
        clients.push(await new Promise<Socket>((resolve, reject) => {
          const c = connect(port, '127.0.0.1', () => resolve(c));
          c.once('error', reject);
        }));
      }
      const listening = readListeningPorts('/proc/net/tcp');
      assert.ok(listening.includes(port));
      for (const c of clients) assert.ok(!listening.includes(c.localPort!), `client port ${c.localPort} is not a listener`);
    } finally {
      for (const c of clients) c.destroy();
      server.close();
    }
  });

  it('compares with the profile: (=) where the value already matches', () => {
    const limits = readHostLimits();
    const report = buildDoctorReport(limits, loadProfile('c1m'), { n: 1000 }, (key) => (key === 'fs.file-max' ? '4194304' : '1'));
    assert.equal(report.rows.find((x) => x.key === 'fs.file-max')?.matchesProfile, true);
    assert.equal(report.rows.find((x) => x.key === 'net.core.somaxconn')?.matchesProfile, false);
    assert.ok(report.rows.some((x) => x.id === 'profile:net.ipv4.tcp_fin_timeout'), 'profile settings without a finding get a row');
  });

  it('runs inside a network namespace, where host-wide settings are absent', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
    const ns = namespaceName('doctor');
    addNamespace(ns);
    try {
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, CLI, 'doctor', '--json', '--n', '1000'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const rows = JSON.parse(r.stdout).rows;
      assert.equal(rows.find((x: { id: string }) => x.id === 'tcp-mem').current, 'absent');
      assert.equal(rows.find((x: { id: string }) => x.id === 'netdev-backlog').current, 'absent');
    } finally {
      deleteNamespace(ns);
    }
  });
});

describe('the conntrack trap', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
  it('sees loopback connections tracked once an iptables rule loads conntrack (in a namespace of its own)', () => {
    const ns = namespaceName('conntrack');
    // Holds 20 loopback connections inside the namespace while it reads the limits, then closes everything.
    const script = `
      import { connect, createServer } from 'node:net';
      import { readHostLimits } from ${JSON.stringify(new URL('./host-limits.ts', import.meta.url).pathname)};
      import { assessCapacity } from ${JSON.stringify(new URL('./capacity.ts', import.meta.url).pathname)};
      const server = createServer(() => {});
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const conns = await Promise.all(Array.from({ length: 20 }, () => new Promise((r, j) => {
        const c = connect(server.address().port, '127.0.0.1', () => r(c)); c.once('error', j); })));
      const limits = readHostLimits();
      const a = assessCapacity(limits, { n: 1_000_000 });
      console.log(JSON.stringify({ conntrack: limits.conntrack, finding: a.findings.find((f) => f.id === 'conntrack') }));
      for (const c of conns) c.destroy();
      server.close();`;
    addNamespace(ns);
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-A', 'OUTPUT', '-m', 'conntrack', '--ctstate', 'NEW,ESTABLISHED', '-j', 'ACCEPT']);
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const { conntrack, finding } = JSON.parse(r.stdout);
      assert.equal(conntrack.tracking, true);
      assert.ok(conntrack.count >= 20, `count ${conntrack.count}`);
      assert.equal(finding.maxN, conntrack.max - conntrack.count);
      assert.equal(finding.severity, conntrack.max - conntrack.count < 1_000_000 ? 'fail' : 'ok');
      assert.match(finding.meaning, /iptables rules loaded it: every connection, loopback too, takes an entry/);
    } finally {
      deleteNamespace(ns);
    }
  });
});

describe('kernel CLI contract', () => {
  it('reports every bad flag at once and exits 2', () => {
    const r = run(['doctor', '--n', 'lots', '--backend', 'cloud', '--source-addresses', '0']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /LAB_ERR_USAGE: --n must be a positive integer, got "lots"/);
    assert.match(r.stderr, /--backend must be local or docker/);
    assert.match(r.stderr, /--source-addresses must be a positive integer/);
    assert.equal(run(['doctor'], { LAB_N: '-5' }).status, 2);
    assert.equal(run(['frobnicate']).status, 2);
    assert.equal(run([]).status, 2, 'no command: usage shown, exit 2');
    assert.equal(run(['--help']).status, 0);
  });

  it('--strict exits 3 when N does not fit, 0 when it does', async () => {
    assert.equal((await inProcess(['doctor', '--strict', '--n', '1000000000000'])).code, 3);
    assert.equal((await inProcess(['doctor', '--strict', '--n', '1000'])).code, 0);
  });

  it('an unknown profile is a usage error naming the shipped ones', async () => {
    const r = await inProcess(['doctor', '--profile', 'c10m']);
    assert.equal(r.code, 2);
    assert.match(r.err, /LAB_ERR_PROFILE: unknown profile "c10m"/);
    assert.match(r.err, /hint: profiles: c1m, seed/);
  });
});

describe('parsers of /proc text', () => {
  it('reads nofile, unlimited included, and LISTEN ports', () => {
    assert.deepEqual(parseNofile('Max open files            1024                 unlimited            files\n'), { soft: 1024, hard: Infinity });
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1',
      '   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2',
    ].join('\n');
    assert.deepEqual(parseListeningPorts(tcp), [8080]);
  });
});
