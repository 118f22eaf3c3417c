/**
 * The health watch's stall arithmetic: a stall's length is read on the watch's own clock, whatever start times the
 * samples carry (a 1,000,000 run printed "the run stalled for -0.5 s" when the watchdog's arrival time and a sample's
 * start time were mixed), and the watchdog notices samples that stop coming. Worker deaths are covered end to end by
 * flood-degraded.e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthWatch, type HealthEvent } from './health-watch.ts';

const stats = { workerRestarts: 0 } as never;

test('a failed /stats starts a stall that ends at the next answer; its length is the time between them, never negative', () => {
  let clock = 100_000;
  const events: HealthEvent[] = [];
  const watch = new HealthWatch(1000, (e) => events.push(e), 5000, () => clock);
  // Samples start on the clock and arrive up to 2.5 periods later: the one that failed started at 97,000 and arrived
  // at 100,000; the next started at 98,000 (before the failure arrived) and answered at 100,500.
  watch.sample(97_000, undefined, false);
  clock = 100_500;
  watch.sample(98_000, stats, true);
  assert.deepEqual(events.map((e) => e.kind), ['stall', 'stall-over']);
  assert.equal(watch.reasons.length, 1);
  assert.match(watch.reasons[0]!, /^the run stalled for 0\.5 s /);
});

test('no sample for the stall time: a stall from the last arrival, over when one arrives, its length as long as it was', async () => {
  const events: HealthEvent[] = [];
  const watch = new HealthWatch(100, (e) => events.push(e), 300);
  watch.start();
  await sleep(700);
  assert.equal(events[0]?.kind, 'stall', 'the watchdog noticed the missing samples');
  watch.sample(Date.now() - 250, stats, true);
  watch.stop();
  const seconds = Number(/stalled for (\d+\.\d) s/.exec(watch.reasons[0] ?? '')?.[1]);
  assert.ok(seconds >= 0.6 && seconds < 5, `stall length ${seconds} s for 0.7 s without samples`);
});

test('samples that keep coming with the server answering: no stall, nothing degraded', async () => {
  const events: HealthEvent[] = [];
  const watch = new HealthWatch(100, (e) => events.push(e), 300);
  watch.start();
  for (let i = 0; i < 6; i++) {
    await sleep(100);
    watch.sample(Date.now(), stats, true);
  }
  watch.stop();
  assert.deepEqual(events, []);
  assert.deepEqual(watch.reasons, []);
});
