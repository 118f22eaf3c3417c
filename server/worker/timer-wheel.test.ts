/**
 * The heartbeat wheel keeps its period on a busy event loop: streams come due once per period on average even when
 * the loop runs the wheel's timer late, and a stall longer than a period never makes a stream due twice at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimerWheel } from './timer-wheel.ts';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

interface Item {
  sl: number;
  dues: number;
  lastTurnAt: number;
  twiceInOneTurn: boolean;
}

/** A 100 ms wheel of 10 slots with one item added per slot (10 ms apart). */
async function filledWheel(): Promise<{ wheel: TimerWheel<Item>; items: Item[] }> {
  let turnAt = 0;
  const wheel = new TimerWheel<Item>(
    100,
    (it) => {
      if (it.lastTurnAt === turnAt) it.twiceInOneTurn = true;
      it.lastTurnAt = turnAt;
      it.dues++;
    },
    { slots: 10 },
  );
  // every callback of the wheel is one "turn": mark it so a double visit within one turn shows
  const mark = setInterval(() => (turnAt = performance.now()), 1);
  mark.unref();
  const items: Item[] = [];
  for (let k = 0; k < 10; k++) {
    const it: Item = { sl: -1, dues: 0, lastTurnAt: -1, twiceInOneTurn: false };
    wheel.add(it);
    items.push(it);
    await sleep(10);
  }
  return { wheel, items };
}

test('a loop that runs the timer late still heartbeats each stream once per period', async () => {
  const { wheel, items } = await filledWheel();
  for (const it of items) it.dues = 0;
  // 1 s in which the loop is busy 25 ms out of every ~27: the 10 ms timer runs about every 27 ms
  const until = performance.now() + 1000;
  while (performance.now() < until) {
    busy(25);
    await sleep(1);
  }
  wheel.stop();
  const dues = items.map((it) => it.dues);
  for (const d of dues) assert.ok(d >= 9 && d <= 11, `dues per item over 1 s at a 100 ms period: ${dues.join(',')}`);
});

test('a stall of several periods makes each stream due once, not once per period missed', async () => {
  const { wheel, items } = await filledWheel();
  for (const it of items) it.dues = 0;
  busy(350);
  await sleep(15); // the wheel's next callback catches up
  wheel.stop();
  assert.ok(items.every((it) => !it.twiceInOneTurn), 'no item visited twice by one callback');
  assert.ok(items.every((it) => it.dues <= 2), `dues after the stall: ${items.map((it) => it.dues).join(',')}`);
});
