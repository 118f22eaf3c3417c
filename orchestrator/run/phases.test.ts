/**
 * The sends and broadcast phases against a real server and a real load generator (two child processes) that hold
 * fewer connections than planned (200 of 400): sends go only to connected ids (no 404), and a broadcast whose HTTP
 * answer comes too late (a proxy in front of the server forwards it and never answers) still gets its fan-out from
 * the load generators' counters.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadgenStatus } from '../../shared/contracts.ts';
import { LocalBackend } from '../backends/local/local-backend.ts';
import { REPO_ROOT } from '../flood.ts';
import { makePlan } from '../plan/planner.ts';
import { broadcastPhase } from './broadcast-phase.ts';
import { broadcastAnswerTimeoutMs, loadgenStatus, ramp } from './control.ts';
import type { PhaseContext } from './phase-context.ts';
import { sendsPhase } from './sends-phase.ts';

const PLANNED = 400;
const HELD = 200;
const plan = makePlan(
  { n: PLANNED, backend: 'local', engine: '', transport: 'chunked', rate: 2000, holdSeconds: 5, intervalSeconds: 30, serverPort: 0, workers: 1, loadgenProcs: 2 },
  { connectionsPerProcess: 19800, fdLimit: 20000, portRange: [32768, 60999], portsPerAddress: 28232, memAvailableBytes: 8 * 2 ** 30, cores: 2 },
);
const backend = new LocalBackend({ runId: `phases-test-${process.pid}`, lifetimeSeconds: 90, cgroups: false, cwd: REPO_ROOT });
const abort = new AbortController();
let ctx: PhaseContext;

before(async () => {
  await backend.up(plan);
  const [server, ...loadgens] = backend.components();
  ctx = { plan, server: server!, loadgens, signal: abort.signal, latest: () => undefined, setTarget: () => {} };
  // Started by the backend, a load generator opens nothing until the run's POST /ramp.
  await sleep(300);
  const idle = await loadgenStatus(loadgens[0]!.url);
  assert.equal(idle.target + idle.active + idle.connecting, 0, 'nothing opened before the ramp');
  // The ramp falls short: 200 of the 400 planned ids are connected.
  await ramp(loadgens[0]!.url, { target: HELD, rate: 0 }, loadgens[0]!.token);
  let s: LoadgenStatus | undefined;
  for (let i = 0; i < 150 && s?.active !== HELD; i++) {
    await sleep(100);
    s = await loadgenStatus(loadgens[0]!.url);
  }
  assert.equal(s?.active, HELD, 'the load generator holds 200');
}, { timeout: 60_000 });
after(async () => {
  abort.abort();
  await backend.stop();
});

test('sends go only to connected ids: none answered 404 although half the planned ids are not connected', { timeout: 30_000 }, async () => {
  const out = await sendsPhase(ctx, 300, 2, 8);
  assert.ok(out.requests >= 300, `requests ${out.requests}`);
  assert.equal(out.non2xx, 0, `non-2xx: ${out.non2xx}`);
  assert.equal(out.notFound, 0, `404s: ${out.notFound}`);
  assert.equal(out.idsFromPlan, 0);
  assert.equal(out.connections, 8);
  assert.equal(out.accepted, out.requests);
  assert.ok(out.messagesReceived >= out.accepted!, `received ${out.messagesReceived} of ${out.accepted}`);
});

test('a broadcast whose answer is late still has a fan-out, measured from the load generators', { timeout: 30_000 }, async () => {
  // Forwards POST /broadcast to the real server and never answers: the answer is late, the broadcast is written.
  const held: http.ServerResponse[] = [];
  const proxy = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const p of req) parts.push(p as Buffer);
    // The proxy passes the request on as it came, token included (the local backend's server has one).
    const authorization = req.headers.authorization;
    await fetch(`${ctx.server.url}${req.url}`, { method: req.method, headers: { 'content-type': 'text/plain', ...(authorization ? { authorization } : {}) }, body: Buffer.concat(parts) });
    held.push(res);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const out = await broadcastPhase({ ...ctx, server: { ...ctx.server, url } }, 5, 500);
    assert.equal(out.answerLate, true);
    assert.equal(out.serverDelivered, undefined);
    assert.equal(out.expected, HELD);
    assert.equal(out.received, HELD);
    assert.equal(out.complete, true);
    assert.ok(out.fanOutMs !== undefined && out.fanOutMs >= 0, `fan-out ${out.fanOutMs}`);
  } finally {
    proxy.closeAllConnections();
    proxy.close();
  }
});

test('the broadcast answer timeout grows with the connections held, within bounds', () => {
  assert.equal(broadcastAnswerTimeoutMs(0), 10_000);
  assert.equal(broadcastAnswerTimeoutMs(300_000), 40_000);
  assert.equal(broadcastAnswerTimeoutMs(1_000_000), 110_000);
  assert.equal(broadcastAnswerTimeoutMs(5_000_000), 120_000);
});
