/**
 * The closed-loop ramp against a real server made slow to accept (loadgen/testing/slow-accept-server.ts: a backlog
 * of 8 and an event loop blocked 700 ms of every 800 ms for the first seconds). The load generator must back off
 * (its pace falls well below the asked rate, saying why), retry the connects that timed out, recover once the
 * server keeps up again (the pace climbs back), and end holding every connection with none lost to a timeout.
 * A fixed pace with no retries, against the same stall, loses connections: the defect the loop fixes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { LoadgenStatus, PaceReason } from '../shared/contracts.ts';
import { startWithReadyLine, type Started } from '../shared/testing/ready-process.ts';
import { waitFor } from '../shared/testing/wait-for.ts';
import { exited, getJson, NODE, postJson } from './bench/bench-support.ts';
import { readyPrefix } from '../shared/ready-line.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('./testing/slow-accept-server.ts', import.meta.url));
const TOKEN = 'closed-loop-test-token-0123';
const N = 5000;
const ASKED = 2000;
const STALL = 'stall 700 800 4000';

interface Observation {
  t: number;
  rate: number;
  reason: PaceReason;
  active: number;
}

async function flood(extra: string[]): Promise<{ server: Started<{ port: number }>; lg: Started<{ controlPort: number }>; base: string }> {
  const server = await startWithReadyLine<{ port: number }>(NODE, [SERVER, '--backlog', '8'], 'slow-accept-server ready ');
  server.proc.stdin!.write(`${STALL}\n`);
  await waitFor('the stall to begin', () => server.lines.includes('stalling'), 5000, { everyMs: 20 });
  const lg = await startWithReadyLine<{ controlPort: number }>(
    NODE,
    [CLI, '--url', `http://127.0.0.1:${server.info.port}/test/{i}`, '--count', String(N), '--rate', String(ASKED), '--control-port', '0',
      '--connect-timeout', '1500ms', '--pace-latency', '300ms', '--duration', '60s', '--report-every', '60s', ...extra],
    readyPrefix('loadgen'),
    30_000,
    { env: { ...process.env, LOADGEN_CONTROL_TOKEN: TOKEN } },
  );
  return { server, lg, base: `http://127.0.0.1:${lg.info.controlPort}` };
}

async function stop(f: { server: Started<{ port: number }>; lg: Started<{ controlPort: number }>; base: string }): Promise<void> {
  await postJson(`${f.base}/stop`, {}, TOKEN).catch(() => undefined);
  await exited(f.lg.proc, 5000);
  f.server.proc.stdin!.end();
  await exited(f.server.proc, 5000);
}

test('closed loop: backs off while the server is slow to accept, retries timed-out connects, recovers, holds every connection', { timeout: 90_000 }, async () => {
  const f = await flood(['--connect-retries', '6']);
  const seen: Observation[] = [];
  const t0 = Date.now();
  try {
    let s!: LoadgenStatus;
    await waitFor(`${N} active`, async () => {
      s = await getJson<LoadgenStatus>(`${f.base}/status`);
      seen.push({ t: (Date.now() - t0) / 1000, rate: s.pace!.currentPerSecond, reason: s.pace!.reason, active: s.active });
      return s.active === N;
    }, 60_000, { everyMs: 100, describe: () => ({ status: s, last: seen.slice(-5) }) });
    const stalledAt = f.server.lines.findIndex((l) => l.startsWith('stalled '));
    assert.ok(stalledAt >= 0, 'the server stalled, then recovered');

    // Backed off: the pace fell well below the asked rate, cut for a reason the server caused.
    const lowest = Math.min(...seen.map((o) => o.rate));
    assert.ok(lowest < 0.4 * ASKED, `lowest pace ${lowest}/s of ${ASKED}/s asked: ${JSON.stringify(seen.slice(0, 20))}`);
    assert.ok(seen.some((o) => o.reason === 'slow-connects' || o.reason === 'connect-timeouts'), 'a cut said why');
    assert.ok(s.pace!.decreases > 0);
    // Recovered: after its lowest point the pace climbed back while connections were still being opened.
    const low = seen.findIndex((o) => o.rate === lowest);
    const after = seen.slice(low).filter((o) => o.active < N);
    const highest = Math.max(...after.map((o) => o.rate));
    assert.ok(highest >= 3 * lowest && highest >= 0.25 * ASKED, `pace after the low point rose to ${highest}/s from ${lowest}/s`);
    assert.ok(after.some((o) => o.reason === 'increasing' || o.reason === 'asked-rate'), 'it said it was growing again');
    // Nothing lost: timed-out connects were retried and every connection is held.
    assert.ok(s.connectRetries! > 0, 'some connects timed out and were tried again');
    assert.equal(s.errors.timeout, 0, 'no connection given up to a timeout');
    assert.deepEqual(Object.values(s.errors).filter((v) => v !== 0), [], JSON.stringify(s.errors));
    f.server.proc.stdin!.write('count\n');
    await waitFor('the server holds them all', () => f.server.lines.includes(`open ${N}`), 5000, { everyMs: 50, describe: () => f.server.lines.slice(-3) });
  } finally {
    await stop(f);
  }
});

test('fixed pace, no retries, same stall: connections are lost to timeouts (what the closed loop prevents)', { timeout: 90_000 }, async () => {
  const f = await flood(['--pacing', 'fixed', '--connect-retries', '0']);
  try {
    let s!: LoadgenStatus;
    await waitFor('every connection tried', async () => (s = await getJson<LoadgenStatus>(`${f.base}/status`)).rampDone && s.connecting === 0, 60_000, { everyMs: 100, describe: () => s });
    assert.equal(s.pace!.reason, 'done');
    assert.equal(s.pace!.decreases, 0, 'a fixed pace never slows down');
    assert.ok(s.errors.timeout > 0, `timeouts: ${JSON.stringify(s.errors)}`);
    assert.equal(s.active + s.errors.timeout, N);
  } finally {
    await stop(f);
  }
});
