import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearFit } from './fit.ts';

test('least squares recovers a known line and reports a perfect R²', () => {
  const xs = [0, 1000, 2000, 3000];
  const fit = linearFit(xs, xs.map((x) => 50e6 + 4096 * x))!;
  assert.ok(Math.abs(fit.slope - 4096) < 1e-9);
  assert.ok(Math.abs(fit.intercept - 50e6) < 1e-3);
  assert.equal(fit.r2, 1);
  assert.equal(fit.points, 4);
});

test('noise lowers R²; too few points or no spread gives no fit', () => {
  const fit = linearFit([0, 1, 2, 3, 4], [0, 3, 1, 4, 2])!;
  assert.ok(fit.r2 < 0.5);
  assert.equal(linearFit([1, 2], [1, 2]), undefined);
  assert.equal(linearFit([5, 5, 5], [1, 2, 3]), undefined);
});
