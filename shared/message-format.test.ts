import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heartbeatChunk, messageChunk, parseSentAtMs, welcomeChunk } from './message-format.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('a message chunk carries a timestamp the parser reads back to the microsecond', () => {
  const chunk = bytes(messageChunk(1764022175123.4567, 'hello world'));
  assert.equal(parseSentAtMs(chunk, 0, chunk.length), 1764022175123.457);
});

test('heartbeats and welcomes are not messages', () => {
  for (const s of [heartbeatChunk(3, 'abc'), welcomeChunk('abc'), '']) {
    const b = bytes(s);
    assert.ok(Number.isNaN(parseSentAtMs(b, 0, b.length)), s);
  }
});

test('a timestamp is read inside a larger buffer, bounded by start and end', () => {
  const b = bytes('xxxx@1700000000000.5 body\nyyyy');
  assert.equal(parseSentAtMs(b, 4, 26), 1700000000000.5);
  assert.ok(Number.isNaN(parseSentAtMs(bytes('@12a34 x'), 0, 8)));
});
