/**
 * The swarm planner on given node lists: where the server goes (label, the only node, refusals), how many replicas
 * and how they spread, ids per task slot, per-node memory against each node's own, and the plan as printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlan } from './format-plan.ts';
import type { PlanRequest } from './planner.ts';
import { makeSwarmPlan, slotShares, type SwarmNode } from './swarm-planner.ts';

const GIB = 2 ** 30;
const node = (name: string, o: Partial<SwarmNode> = {}): SwarmNode => ({
  id: `id-${name}`, name, addr: '10.0.0.1', role: 'worker', state: 'ready', availability: 'active', cores: 8, memoryBytes: 32 * GIB, labels: {}, ...o,
});
const req = (n: number): PlanRequest => ({ n, backend: 'swarm', engine: 'raw', transport: 'chunked', rate: 5000, holdSeconds: 30, intervalSeconds: 10, serverPort: 0 });
const server = { 'comet-lab.role': 'server' };

test('a million over a labelled server node and three client nodes: ids per slot, spread, memory per node', () => {
  const nodes = [node('srv', { labels: server, role: 'manager' }), node('c1'), node('c2'), node('c3')];
  const p = makeSwarmPlan(req(1_000_000), nodes, { fdLimit: 20000 });
  assert.deepEqual(p.refusals, []);
  assert.equal(p.backend, 'swarm');
  // 55,296 ports per replica used to 90%: 49,766 connections each, so 21 replicas; 3 processes each under 19,800 files.
  assert.equal(p.loadgens.length, 21);
  assert.ok(p.loadgens.every((l) => l.connections <= 49_766 && l.procs === Math.ceil(l.connections / 19_800)));
  assert.equal(p.loadgens.reduce((a, l) => a + l.connections, 0), 1_000_000);
  p.loadgens.forEach((l, i) => assert.equal(l.startIndex, i === 0 ? 0 : p.loadgens[i - 1]!.startIndex + p.loadgens[i - 1]!.connections));
  assert.equal(p.server.workers, 57); // ceil(1,000,000 / (19,800 x 0.9))
  const byName = new Map(p.nodes!.map((x) => [x.name, x]));
  assert.equal(byName.get('srv')!.server, true);
  assert.deepEqual(byName.get('srv')!.loadgens, []);
  assert.deepEqual([...byName.values()].filter((x) => !x.server).map((x) => x.loadgens.length), [7, 7, 7]);
  assert.ok(byName.get('srv')!.expectedMemoryBytes > 8 * GIB, 'a million streams cost the server node gigabytes');
  const text = formatPlan(p);
  assert.match(text, /nodes: 4/);
  assert.match(text, /srv: 8 cores, 32768 MiB; server \(57 workers\); expected \d+ MiB/);
  assert.match(text, /c1: 8 cores, 32768 MiB; 7 load generator\(s\): loadgen-1, loadgen-4/);
});

test('small N still puts a load generator on every client node; one node alone runs everything', () => {
  const two = makeSwarmPlan(req(20_000), [node('a', { labels: server }), node('b')], { fdLimit: 20000, loadgensOn: 'all' });
  assert.equal(two.loadgens.length, 2);
  assert.deepEqual(two.nodes!.map((x) => x.loadgens.length), [1, 1]);
  assert.deepEqual(slotShares(20_000, 2), [{ startIndex: 0, connections: 10_000 }, { startIndex: 10_000, connections: 10_000 }]);
  const one = makeSwarmPlan(req(1000), [node('solo')], { fdLimit: 20000 });
  assert.deepEqual(one.refusals, []);
  assert.equal(one.nodes![0]!.server, true);
  assert.deepEqual(one.nodes![0]!.loadgens, ['loadgen-1']);
});

test('refusals name what to do: no label among several nodes, two labels, a node too small, no node left', () => {
  assert.match(makeSwarmPlan(req(1000), [node('a'), node('b')], { fdLimit: 20000 }).refusals.join(), /no node carries comet-lab.role=server: docker node update --label-add/);
  assert.match(makeSwarmPlan(req(1000), [node('a', { labels: server }), node('b', { labels: server })], { fdLimit: 20000 }).refusals.join(), /2 nodes carry/);
  const small = makeSwarmPlan(req(1_000_000), [node('srv', { labels: server }), node('tiny', { memoryBytes: 1 * GIB })], { fdLimit: 20000 });
  assert.match(small.refusals.join(), /node tiny: expected \d+ MiB of its 1024 MiB/);
  const lonely = makeSwarmPlan(req(1000), [node('srv', { labels: server }), node('gone', { state: 'down' })], { fdLimit: 20000, loadgensOn: 'others' });
  assert.match(lonely.refusals.join(), /no node is left for the load generators/);
  assert.match(lonely.warnings.join(), /node gone is down\/active: nothing is planned on it/);
});
