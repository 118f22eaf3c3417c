import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs } from './duration.ts';

test('durations with a unit mean the same whatever the bare unit', () => {
  for (const bare of ['ms', 's'] as const) {
    assert.equal(parseDurationMs('250ms', bare), 250);
    assert.equal(parseDurationMs('10s', bare), 10_000);
    assert.equal(parseDurationMs(' 2m ', bare), 120_000);
    assert.equal(parseDurationMs('1h', bare), 3_600_000);
    assert.equal(parseDurationMs('1.5s', bare), 1500);
  }
});

test('a bare number takes the flag\'s unit; anything else is NaN', () => {
  assert.equal(parseDurationMs('1500', 'ms'), 1500);
  assert.equal(parseDurationMs('30', 's'), 30_000);
  for (const bad of ['', 'ten', '-5s', '5 s', '5d', '1e3']) assert.ok(Number.isNaN(parseDurationMs(bad, 's')), bad);
});
