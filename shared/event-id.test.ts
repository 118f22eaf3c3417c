import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EPOCH_PATTERN, EpochTable, formatEventId, newEpoch, parseEventId } from './event-id.ts';

test('positions are <epoch>-<seq>, epochs random words of 8', () => {
  const seen = new Set(Array.from({ length: 1000 }, () => newEpoch()));
  assert.equal(seen.size, 1000);
  for (const e of seen) assert.match(e, EPOCH_PATTERN);
  assert.deepEqual(parseEventId(formatEventId('ab12cd34', 17)), { epoch: 'ab12cd34', seq: 17 });
  for (const bad of ['17', 'ab12cd34-', 'AB12CD34-1', 'ab12cd3-1', 'ab12cd34-1x', '']) assert.equal(parseEventId(bad), undefined, bad);
});

test('a client keeps a position as two numbers: sequence and epoch number', () => {
  const t = new EpochTable();
  const b = (s: string) => Buffer.from(s, 'latin1');
  assert.equal(t.read(b(' ab12cd34-42'), 0, 12), 42);
  const first = t.readEpoch;
  assert.ok(first > 0);
  assert.equal(t.readText('zz99yy88-7'), 7);
  assert.notEqual(t.readEpoch, first);
  assert.equal(t.readText('ab12cd34-43'), 43);
  assert.equal(t.readEpoch, first, 'the same epoch gets the same number');
  assert.equal(t.position(first, 43), 'ab12cd34-43');
  assert.equal(t.readText('12'), 12);
  assert.equal(t.readEpoch, 0, 'a bare number (another server) has epoch 0');
  assert.equal(t.position(0, 12), '12');
  for (const bad of ['x-1', 'ab12cd34-', 'ab12cd34-1-2', '1.5']) assert.ok(Number.isNaN(t.readText(bad)), bad);
});
