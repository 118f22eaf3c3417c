// The doctor's and the planner's arithmetic on given limits: no host reading here, every number is checked by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessCapacity, type Finding } from './capacity.ts';
import { expectedMemory, maxNForMemory, portsPerSource } from './capacity-math.ts';
import { CONNECTION_COSTS } from './costs.ts';
import type { HostLimits } from './host-limits.ts';

const GiB = 1024 ** 3;

/** This lab's host as it stands (values read on the 2-core, 24 GiB CI machine). */
function labHost(over: Partial<HostLimits> = {}): HostLimits {
  return {
    nofile: { soft: 20000, hard: 20000 },
    fileMax: 2_466_170,
    fileHandlesInUse: 570,
    nrOpen: 1_048_576,
    portRange: { low: 32768, high: 60999 },
    reservedPorts: '',
    somaxconn: 4096,
    tcpMaxSynBacklog: 2048,
    netdevMaxBacklog: 1000,
    tcpMemPages: [287898, 383867, 575796],
    tcpRmem: [4096, 131072, 33554432],
    tcpWmem: [4096, 16384, 4194304],
    tcpTwReuse: 2,
    tcpMaxTwBuckets: 131072,
    tcpMaxOrphans: 131072,
    tcpTimeWait: 10,
    tcpOrphans: 0,
    pageSize: 4096,
    tcpMemInUsePages: 200,
    tcpSocketsInUse: 20,
    conntrack: { present: true, tracking: false, max: 262144, count: 0 },
    dockerRunning: false,
    memAvailableBytes: 23 * GiB,
    memTotalBytes: 24 * GiB,
    cores: 2,
    listenersInPortRange: [],
    cgroup: { v1Memory: true, v1MemoryWritable: true, v2: true, v2Memory: false },
    netns: 'net:[1]',
    ...over,
  };
}

const find = (findings: Finding[], id: string): Finding => {
  const f = findings.find((x) => x.id === id);
  assert.ok(f, `finding ${id}`);
  return f;
};

describe('assessCapacity', () => {
  it('needs 51 server and 51 load-generator processes for 1,000,000 under hard nofile 20000', () => {
    const a = assessCapacity(labHost(), { n: 1_000_000 });
    assert.equal(a.processes.connectionsPerProcess, 20000 - CONNECTION_COSTS.fdReservePerProcess);
    assert.deepEqual([a.processes.server, a.processes.loadgen], [51, 51]);
    assert.match(find(a.findings, 'nofile').meaning, /at least 51 server processes and 51 load-generator processes/);
  });

  it('caps N by fs.file-max: two handles per loopback connection', () => {
    const a = assessCapacity(labHost({ fileMax: 1_000_000, fileHandlesInUse: 1000 }), { n: 600_000 });
    assert.equal(find(a.findings, 'file-max').maxN, 499_500);
    assert.equal(a.maxN, 499_500);
    assert.equal(a.limitedBy, 'file-max');
    assert.equal(a.fits, false);
    assert.equal(find(a.findings, 'file-max').severity, 'fail');
  });

  it('caps N by memory: the largest N whose expected memory fits in the usable share', () => {
    const limits = labHost({ memAvailableBytes: 4 * GiB, fileMax: 100_000_000 });
    // Fixed costs, so the hand arithmetic below holds whatever costs.ts says after the next measurement.
    const costs = { ...CONNECTION_COSTS, serverBytes: 5120, loadgenBytes: 3072, kernelSocketBytes: 2048, processBaseBytes: 48 * 2 ** 20 };
    const a = assessCapacity(limits, { n: 1_000_000, costs });
    const usable = 4 * GiB * costs.memoryHeadroom;
    const perProcess = a.processes.connectionsPerProcess;
    assert.equal(a.limitedBy, 'memory');
    assert.ok(expectedMemory(a.maxN, perProcess, costs).total <= usable);
    assert.ok(expectedMemory(a.maxN + 1, perProcess, costs).total > usable);
    // 12 KiB per connection (5 + 3 user space, 2 x 2 kernel) and 96 MiB per pair of processes of 19,800: 11 pairs hold
    // 217,800 in 3.52 GiB; one more connection needs a 12th pair (3.62 GiB) and passes the 3.6 GiB usable.
    assert.equal(a.maxN, 217_800);
    assert.equal(find(a.findings, 'memory').severity, 'fail');
  });

  it('takes a memory cgroup limit below MemAvailable as the memory there is', () => {
    const a = assessCapacity(labHost({ cgroupMemoryLimitBytes: 2 * GiB }), { n: 10_000 });
    assert.equal(find(a.findings, 'memory').maxN, maxNForMemory(2 * GiB * CONNECTION_COSTS.memoryHeadroom, 19800));
  });

  it('expected memory at N counts process bases on both sides and two sockets per connection', () => {
    const e = expectedMemory(19801, 19800);
    const k = CONNECTION_COSTS;
    assert.equal(e.server, 19801 * k.serverBytes + 2 * k.processBaseBytes);
    assert.equal(e.loadgen, 19801 * k.loadgenBytes + 2 * k.processBaseBytes);
    assert.equal(e.kernel, 2 * 19801 * k.kernelSocketBytes);
    assert.equal(e.total, e.server + e.loadgen + e.kernel);
  });

  it('counts ports per source address and the source addresses N needs', () => {
    assert.equal(portsPerSource(labHost()), 28232);
    assert.equal(portsPerSource(labHost({ reservedPorts: '33000,40000-40009,70-80' })), 28232 - 11);
    const a = assessCapacity(labHost(), { n: 1_000_000 });
    assert.equal(a.sourceAddressesNeeded, 36);
    assert.equal(find(a.findings, 'ports').maxN, undefined, 'loopback has 2^24 source addresses: not a bound');
    const fixed = assessCapacity(labHost(), { n: 100_000, sourceAddresses: 2, destinations: 1 });
    assert.equal(find(fixed.findings, 'ports').maxN, 56464);
    assert.equal(fixed.limitedBy, 'ports');
    assert.equal(assessCapacity(labHost(), { n: 100_000, sourceAddresses: 2, destinations: 2 }).maxN > 100_000, true);
  });

  it('conntrack bounds N only when it tracks (entries exist) or connections cross the Docker bridge', () => {
    const idle = assessCapacity(labHost({ dockerRunning: true }), { n: 300_000 });
    assert.equal(find(idle.findings, 'conntrack').maxN, undefined);
    assert.equal(find(idle.findings, 'conntrack').severity, 'warn');
    assert.match(find(idle.findings, 'conntrack').meaning, /dockerd is running/);
    const tracking = labHost({ conntrack: { present: true, tracking: true, max: 262144, count: 144 } });
    const a = assessCapacity(tracking, { n: 300_000 });
    assert.equal(a.maxN, 262_000);
    assert.equal(a.limitedBy, 'conntrack');
    const docker = assessCapacity(labHost(), { n: 1_000_000, backend: 'docker' });
    assert.equal(docker.limitedBy, 'conntrack');
    assert.match(find(docker.findings, 'conntrack').meaning, /Docker bridge .* conntrack table 262,144: too small for 1,000,000 connections/);
    const none = assessCapacity(labHost({ conntrack: { present: false, tracking: false } }), { n: 10 });
    assert.equal(find(none.findings, 'conntrack').severity, 'ok');
  });

  it('warns when a broadcast could exhaust tcp_mem: one page per connection with an unread chunk', () => {
    assert.equal(find(assessCapacity(labHost(), { n: 575_796 }).findings, 'tcp-mem').severity, 'ok');
    const f = find(assessCapacity(labHost(), { n: 600_000 }).findings, 'tcp-mem');
    assert.equal(f.severity, 'warn');
    assert.match(f.meaning, /max 2\.2 GiB/);
    assert.match(f.meaning, /more than 575,796/);
  });

  it('warns when a teardown of N would overflow TIME_WAIT or orphan limits, or one is full now', () => {
    assert.equal(find(assessCapacity(labHost(), { n: 100_000 }).findings, 'time-wait').severity, 'ok');
    const big = assessCapacity(labHost(), { n: 200_000 }).findings;
    assert.equal(find(big, 'time-wait').severity, 'warn');
    assert.match(find(big, 'orphans').meaning, /beyond 131,072 they are reset at once/);
    const full = find(assessCapacity(labHost({ tcpTimeWait: 131072 }), { n: 10 }).findings, 'time-wait');
    assert.equal(full.severity, 'warn');
    assert.match(full.meaning, /reached right now/);
  });

  it('flags listeners inside the ephemeral range and suggests reserving them', () => {
    const f = find(assessCapacity(labHost({ listenersInPortRange: [33000, 45000] }), { n: 10 }).findings, 'listeners-in-range');
    assert.equal(f.severity, 'warn');
    assert.match(f.meaning, /net\.ipv4\.ip_local_reserved_ports = 33000,45000/);
  });

  it('flags small queues and reads a namespace (host-wide values absent) without failing', () => {
    const a = assessCapacity(labHost({ somaxconn: 128, netdevMaxBacklog: undefined, tcpMemPages: undefined }), { n: 1000 });
    assert.equal(find(a.findings, 'somaxconn').severity, 'warn');
    assert.equal(find(a.findings, 'netdev-backlog').current, 'absent');
    assert.equal(find(a.findings, 'tcp-mem').severity, 'info');
    assert.equal(a.fits, true);
  });
});
