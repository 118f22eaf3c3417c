/**
 * The Docker backend's arithmetic (container count, addresses, processes, id ranges) and the `docker stats`
 * memory formula: pure functions, no engine needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Plan } from '../../plan/plan.ts';
import { allocateIps, ipToInt, intToIp, layoutLoadgens } from './docker-layout.ts';
import { dockerStatsMemory } from '../probes/docker-memory-probe.ts';
import { adoptLab, previewDockerPlan } from './docker-backend.ts';
import type { LabInfo } from './docker-lab.ts';

function plan(n: number, loadgens: Array<{ procs: number; connections: number }>): Plan {
  let start = 0;
  return {
    n,
    backend: 'docker',
    server: { engine: 'raw', workers: 1, port: 8000, addresses: ['0.0.0.0'], heartbeatIntervalMs: 1000 },
    loadgens: loadgens.map((l, i) => {
      const lg = { name: `loadgen-${i + 1}`, ...l, startIndex: start, sourceAddresses: [], targets: [{ host: '127.0.0.1', port: 8000 }] };
      start += l.connections;
      return lg;
    }),
    transport: 'chunked',
    rampRate: 1000,
    holdSeconds: 30,
    fdLimitPerProcess: 20000,
    portsPerAddress: 25000,
    expectedMemory: { server: 0, loadgen: 0, kernel: 0 },
    refusals: [],
    warnings: [],
  } as Plan;
}

test('ip arithmetic round-trips and allocation skips taken addresses', () => {
  assert.equal(intToIp(ipToInt('172.28.0.10')), '172.28.0.10');
  assert.equal(intToIp(ipToInt('172.28.0.255') + 1), '172.28.1.0');
  assert.deepEqual(allocateIps('172.28.0.0/16', ['172.28.0.101'], 3), ['172.28.0.100', '172.28.0.102', '172.28.0.103']);
  assert.deepEqual(allocateIps('10.9.8.0/24', [], 1), ['10.9.8.100']);
  assert.throws(() => allocateIps('10.9.8.0/24', [], 200), /room for 155 more/);
  assert.throws(() => allocateIps('nonsense', [], 1), /not an IPv4 subnet/);
});

test('a small N spreads over the asked minimum of containers, ids contiguous and unique', () => {
  const specs = layoutLoadgens(plan(3000, [{ procs: 1, connections: 3000 }]), {
    minContainers: 3,
    fdLimit: 20000,
    subnet: '172.28.0.0/16',
    usedIps: ['172.28.0.10', '172.28.0.1'],
  });
  assert.deepEqual(
    specs.map((s) => [s.name, s.ip, s.connections, s.startIndex, s.procs]),
    [
      ['loadgen-1', '172.28.0.100', 1000, 0, 1],
      ['loadgen-2', '172.28.0.101', 1000, 1000, 1],
      ['loadgen-3', '172.28.0.102', 1000, 2000, 1],
    ],
  );
});

test('a million needs a container per ~49,766 ports and processes under the file limit', () => {
  const n = 1_000_000;
  const specs = layoutLoadgens(plan(n, [{ procs: 53, connections: n }]), { fdLimit: 20000, subnet: '172.28.0.0/16', usedIps: [] });
  // 55,296 ports (10240-65535) at 90% fill = 49,766 per address: 21 containers.
  assert.equal(specs.length, 21);
  assert.equal(specs.reduce((s, x) => s + x.connections, 0), n);
  for (const s of specs) {
    assert.ok(s.connections <= 49_766, `${s.name} has ${s.connections}`);
    assert.ok(s.connections / s.procs <= 19_000, `${s.name}: ${s.connections} over ${s.procs} processes`);
  }
  assert.equal(new Set(specs.map((s) => s.ip)).size, 21);
  assert.equal(specs.at(-1)!.startIndex + specs.at(-1)!.connections, n);
});

test('extra source addresses per container: fewer containers, each address used once', () => {
  const n = 1_000_000;
  const specs = layoutLoadgens(plan(n, [{ procs: 53, connections: n }]), { addressesPerContainer: 3, fdLimit: 20000, subnet: '172.28.0.0/16', usedIps: ['172.28.0.101'] });
  assert.equal(specs.length, 7); // 3 x 49,766 ports per container
  assert.deepEqual([specs[0]!.ip, ...specs[0]!.extraIps], ['172.28.0.100', '172.28.0.102', '172.28.0.103']);
  const all = specs.flatMap((s) => [s.ip, ...s.extraIps]);
  assert.equal(new Set(all).size, 21);
  assert.ok(specs.every((s) => s.extraIps.length === 2 && s.connections / s.procs <= 19_000));
});

test('memory as docker stats shows it: usage minus inactive file (v1 key first), never below zero', () => {
  assert.equal(dockerStatsMemory({ memory_stats: { usage: 1000, stats: { total_inactive_file: 300, inactive_file: 100 } } }), 700);
  assert.equal(dockerStatsMemory({ memory_stats: { usage: 1000, stats: { inactive_file: 100 } } }), 900);
  assert.equal(dockerStatsMemory({ memory_stats: { usage: 100, stats: { total_inactive_file: 300 } } }), 100);
  assert.equal(dockerStatsMemory({}), 0);
});

test('the plan printed for docker shows the containers; adopting the lab takes its server settings or refuses', () => {
  const preview = previewDockerPlan(plan(100_000, [{ procs: 6, connections: 100_000 }]), { COMET_LAB_SUBNET: '10.5.0.0/16' });
  assert.deepEqual(preview.loadgens.map((l) => l.sourceAddresses[0]), ['10.5.0.100', '10.5.0.101', '10.5.0.102']);
  assert.deepEqual(preview.loadgens[0]!.targets, [{ host: '10.5.0.10', port: 8000 }]);

  const lab: LabInfo = {
    project: 'p', serverId: 'x', serverName: 'p_server_1', serverIp: '172.28.0.10', serverPort: 8000, network: 'p_lab', networkId: 'n',
    subnet: '172.28.0.0/16', usedIps: [], serverCmd: ['--workers=auto', '--interval=2s'], serverNofile: 20000,
  };
  const p = plan(30_000, [{ procs: 2, connections: 30_000 }]);
  const specs = layoutLoadgens(p, { fdLimit: 20000, subnet: lab.subnet, usedIps: [] });
  const before = structuredClone(p);
  const adopted = adoptLab(p, lab, { workers: 2, engine: 'raw' }, specs);
  assert.equal(adopted.server.workers, 2);
  assert.equal(adopted.server.heartbeatIntervalMs, 2000);
  assert.equal(adopted.loadgens.length, specs.length);
  assert.deepEqual(p, before, 'the plan given is left as it was');
  assert.throws(() => adoptLab(plan(30_000, []), lab, { workers: 1, engine: 'raw' }, specs), (e: Error & { code?: string }) => e.code === 'LAB_ERR_LAB_TOO_SMALL');
});
