/** The bench's configuration: the floods' transport (chunked by default, ws for WebSocket floods), checked at once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveBenchConfig } from './config.ts';

test('--transport (BENCH_TRANSPORT) picks what the floods speak; anything else is a usage error', () => {
  assert.equal(resolveBenchConfig({}).floodTransport, 'chunked');
  assert.equal(resolveBenchConfig({ transport: 'ws' }).floodTransport, 'ws');
  assert.equal(resolveBenchConfig({}, { BENCH_TRANSPORT: 'ws' }).floodTransport, 'ws');
  assert.throws(() => resolveBenchConfig({ transport: 'carrier-pigeon' }), /--transport must be one of chunked, sse, poll, ws/);
});
