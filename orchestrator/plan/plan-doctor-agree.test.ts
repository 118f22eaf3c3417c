// The plan (`orchestrator/cli.ts plan --n N`) and the doctor (`make doctor N=N`, kernel's assessCapacity) on the same
// host limits: one memory estimate, one verdict. They once disagreed at 1,000,000 (the planner counted its own
// process bases and refused what the doctor said fits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessCapacity } from '../../kernel/capacity.ts';
import type { HostLimits } from '../../kernel/host-limits.ts';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { makeFloodPlan } from './make-flood-plan.ts';

const GiB = 1024 ** 3;

/** This lab's host (the 2-core, 24 GiB CI machine), with the memory given. */
function labHost(memAvailableBytes: number): HostLimits {
  return {
    nofile: { soft: 20000, hard: 20000 }, fileMax: 2_466_170, fileHandlesInUse: 570, nrOpen: 1_048_576,
    portRange: { low: 32768, high: 60999 }, reservedPorts: '', somaxconn: 4096, tcpMaxSynBacklog: 2048, netdevMaxBacklog: 1000,
    tcpMemPages: [287898, 383867, 575796], tcpRmem: [4096, 131072, 33554432], tcpWmem: [4096, 16384, 4194304], tcpTwReuse: 2,
    tcpMaxTwBuckets: 131072, tcpMaxOrphans: 131072, tcpTimeWait: 10, tcpOrphans: 0, pageSize: 4096, tcpMemInUsePages: 200,
    tcpSocketsInUse: 20, conntrack: { present: true, tracking: false, max: 262144, count: 0 }, dockerRunning: false,
    memAvailableBytes, memTotalBytes: 24 * GiB, cores: 2, listenersInPortRange: [],
    cgroup: { v1Memory: true, v1MemoryWritable: true, v2: true, v2Memory: false }, netns: 'net:[1]',
  };
}

const planFor = (n: number, limits: HostLimits) =>
  makeFloodPlan(resolveFloodConfig({ n: String(n), rate: '5000' }, {}, false), 'local', 0, limits);

test('1,000,000 on 22.9 GiB available: the doctor says it fits and the plan is not refused for memory', () => {
  const limits = labHost(22.9 * GiB);
  const a = assessCapacity(limits, { n: 1_000_000, backend: 'local' });
  const memory = a.findings.find((f) => f.id === 'memory')!;
  assert.notEqual(memory.severity, 'fail');
  const plan = planFor(1_000_000, limits);
  assert.deepEqual(plan.refusals.filter((r) => /memory/i.test(r)), [], plan.refusals.join('\n'));
});

test('around the doctor\'s memory bound the plan refuses exactly when the doctor does, with the same figures', () => {
  const limits = labHost(8 * GiB);
  const bound = assessCapacity(limits, { n: 1000, backend: 'local' }).findings.find((f) => f.id === 'memory')!.maxN!;
  for (const n of [bound - 1000, bound, bound + 1, bound + 1000]) {
    const a = assessCapacity(limits, { n, backend: 'local' });
    const doctorRefuses = a.findings.find((f) => f.id === 'memory')!.severity === 'fail';
    const plan = planFor(n, limits);
    const planRefuses = plan.refusals.some((r) => /memory/i.test(r));
    assert.equal(planRefuses, doctorRefuses, `n=${n}: doctor ${doctorRefuses ? 'refuses' : 'accepts'}, plan ${planRefuses ? 'refuses' : 'accepts'}`);
    const { total: _total, ...figures } = a.expectedMemory;
    assert.deepEqual(plan.expectedMemory, figures, `n=${n}: the plan shows the doctor's expected memory`);
  }
});
