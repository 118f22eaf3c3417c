import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectWhenIdle } from './idle-gc.ts';

test('after a burst then quiet, one full collection frees the garbage the burst left', async () => {
  let activity = 0;
  const stop = collectWhenIdle(() => activity, 1000, 100);
  try {
    let garbage: object[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `item ${i}` }));
    activity += 5000;
    const ref = new WeakRef(garbage);
    garbage = undefined;
    let collected = false;
    for (let i = 0; i < 40 && !collected; i++) {
      await new Promise((r) => setTimeout(r, 50));
      collected = ref.deref() === undefined;
    }
    assert.ok(collected, 'collected within 2 s');
  } finally {
    stop();
  }
});
