/**
 * The suite every backend passes (orchestrator/backends/backend.ts): up(plan) returns the plan it adopted and leaves
 * the given one alone; one component per planned load generator plus the server, each answering on its API; a small
 * ramp driven over the control APIs reaches N on the server; every memory probe reads a figure and names its method;
 * a component killed from outside is reported with why; stop() removes everything and can be called twice; an up()
 * whose signal aborts gives up within seconds with the signal's reason.
 * Each backend's harness (local/, docker/, ...) says how to make it, kill a component and find leftovers, and lists
 * what it skips and why. Backends that talk to Docker need `flock /tmp/comet-lab-docker.lock`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, Component } from './backend.ts';
import type { BackendCase, BackendCaseTest } from './backend-case.ts';
import { dockerCase } from './docker/docker-backend-case.ts';
import { localCase } from './local/local-backend-case.ts';
import { swarmCase } from './swarm/swarm-backend-case.ts';
import type { Plan } from '../plan/plan.ts';
import { loadgenStatus, ramp, serverStats } from '../run/control.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';

const CASES: BackendCase[] = [localCase(), dockerCase(), swarmCase()];

for (const c of CASES) {
  describe(`backend ${c.name}`, { skip: c.skip }, () => {
    const skip = (t: BackendCaseTest) => c.skips?.[t] ?? false;
    let backend: Backend;
    let given: Plan;
    let givenCopy: Plan;
    let adopted: Plan;
    let pidsKnown = false;

    before(async () => {
      await c.setup?.();
      backend = c.make();
      given = await c.plan(c.n);
      givenCopy = structuredClone(given);
      adopted = await backend.up(given);
    }, { timeout: 300_000 });

    after(async () => {
      try {
        await backend?.stop();
      } finally {
        await c.teardown?.();
      }
    }, { timeout: 300_000 });

    test('up(plan) returns the plan it adopted; the plan given is left as it was', { skip: skip('adopts') }, () => {
      assert.deepEqual(given, givenCopy);
      assert.equal(adopted.n, c.n);
      assert.equal(adopted.backend, given.backend);
      assert.ok(adopted.server.port > 0, `adopted server port ${adopted.server.port}`);
      assert.ok(adopted.loadgens.length >= 1);
      assert.equal(adopted.loadgens.reduce((a, l) => a + l.connections, 0), c.n, 'the shares add up to N');
      // Id ranges are disjoint and cover 0..N-1.
      const ranges = adopted.loadgens.map((l) => [l.startIndex, l.startIndex + l.connections] as const).sort((a, b) => a[0] - b[0]);
      ranges.forEach(([lo], i) => assert.equal(lo, i === 0 ? 0 : ranges[i - 1]![1]));
      const names = backend.components().map((x) => x.name).sort();
      assert.deepEqual(names, ['server', ...adopted.loadgens.map((l) => l.name)].sort());
      assert.equal(backend.components().filter((x) => x.role === 'server').length, 1);
    });

    test('every component answers on its API and none is reported dead', { skip: skip('answers') }, async () => {
      const server = backend.components().find((x) => x.role === 'server')!;
      const stats = await serverStats(server.url);
      assert.equal(typeof stats.open.total, 'number');
      for (const l of backend.components().filter((x) => x.role === 'loadgen')) {
        const s = await loadgenStatus(l.url);
        assert.equal(s.active, 0, `${l.name} opened connections before the ramp`);
      }
      for (const x of backend.components()) assert.equal(x.exited(), undefined, `${x.name}: ${x.exited()}`);
      await c.leftovers(backend); // lets a harness note what runs (pids) while it runs
      pidsKnown = true;
    });

    test('a ramp driven over the control APIs reaches N on the server and on each load generator', { skip: skip('ramps'), timeout: 120_000 }, async () => {
      const loadgens = adopted.loadgens.map((p) => backend.components().find((x) => x.name === p.name)!);
      await Promise.all(loadgens.map((l, i) => ramp(l.url, { target: adopted.loadgens[i]!.connections, rate: 1000 }, l.token)));
      const server = backend.components().find((x) => x.role === 'server')!;
      await waitFor(`${c.n} connections on the server`, async () => ((await serverStats(server.url)).open.total >= c.n), 60_000, { everyMs: 250, retryErrors: true });
      for (const [i, l] of loadgens.entries()) {
        const s = await waitFor(`${l.name} to hold its share`, async () => {
          const st = await loadgenStatus(l.url);
          return st.active === adopted.loadgens[i]!.connections ? st : undefined;
        }, 30_000, { everyMs: 250, retryErrors: true });
        assert.equal(s.active, adopted.loadgens[i]!.connections);
      }
    });

    test('every memory probe reads a working set and names its method', { skip: skip('probes') }, async () => {
      for (const x of backend.components()) {
        const r = await x.probe.read();
        assert.ok(r.method.length > 0);
        assert.ok(Number.isFinite(r.workingSetBytes) && r.workingSetBytes > 1 << 20, `${x.name}: ${r.workingSetBytes} bytes (${r.method})`);
        assert.ok(r.kernelBytes === undefined || (r.kernelBytes >= 0 && r.kernelBytes <= r.workingSetBytes), `${x.name}: kernel ${r.kernelBytes}`);
        assert.ok(r.cpuSeconds === undefined || r.cpuSeconds >= 0);
      }
    });

    test('a load generator killed from outside is reported dead, with why; the others are not', { skip: skip('death'), timeout: 60_000 }, async () => {
      const victim: Component = backend.components().find((x) => x.role === 'loadgen')!;
      await c.kill(backend, victim.name);
      const why = await waitFor(`${victim.name}'s death to be seen`, async () => victim.exited(), 30_000, { everyMs: 250, retryErrors: true });
      assert.match(why, /SIGKILL|137|killed/i);
      assert.equal(backend.components().find((x) => x.role === 'server')!.exited(), undefined);
    });

    test('stop() removes everything up() made, and a second stop() is harmless', { skip: skip('stop'), timeout: 120_000 }, async () => {
      if (!pidsKnown) await c.leftovers(backend);
      await backend.stop();
      assert.deepEqual(await c.leftovers(backend), []);
      await backend.stop();
      assert.deepEqual(await c.leftovers(backend), []);
    });

    test('up(plan, signal) aborted while starting rejects promptly with the reason; stop() leaves nothing', { skip: skip('abort'), timeout: 120_000 }, async (t) => {
      const second = c.make();
      const controller = new AbortController();
      const reason = new Error('aborted by the suite');
      const upping = second.up(await c.plan(c.n), controller.signal);
      const settled = upping.then(() => 'resolved', () => 'rejected');
      await Promise.race([settled, new Promise((r) => setTimeout(r, c.abortAfterMs ?? 500))]);
      const abortedAt = Date.now();
      controller.abort(reason);
      try {
        // Up may have finished before the abort; otherwise it must give up within seconds, not at a ready timeout.
        if ((await Promise.race([settled, new Promise((r) => setTimeout(r, 10_000, 'pending'))])) === 'rejected') await assert.rejects(upping, (e) => e === reason);
        else assert.equal(await settled, 'resolved', 'up() still pending 10 s after the abort');
        t.diagnostic(`up() settled ${Date.now() - abortedAt} ms after the abort`);
      } finally {
        await second.stop();
      }
      assert.deepEqual(await c.leftovers(second), []);
    });
  });
}
