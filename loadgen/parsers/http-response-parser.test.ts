import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpResponseParser } from './http-response-parser.ts';
import { TRANSPORTS } from '../transports/transports.ts';
import type { UnitListener } from '../transports/transport.ts';
import { feedSplit } from '../testing/feed-split.ts';

const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n';
const chunk = (s: string) => `${Buffer.byteLength(s, 'latin1').toString(16)}\r\n${s}\r\n`;

interface Seen {
  opens: number;
  refused: number[];
  units: number[];
  ends: number;
}

/** A parser + transport sink on 4 slots, recording what the pool would hear. */
function harness(transport: 'chunked' | 'sse' | 'poll') {
  const seen: Seen = { opens: 0, refused: [], units: [], ends: 0 };
  const listener: UnitListener = {
    onOpen: () => void seen.opens++,
    onRefused: (_slot, _cause, status) => void seen.refused.push(status),
    onUnit: (_slot, sentAt) => void seen.units.push(sentAt),
    onResponseEnd: () => void seen.ends++,
    onWsClose: () => assert.fail('no WebSocket here'),
    write: () => assert.fail('an HTTP transport writes nothing'),
  };
  const sink = TRANSPORTS[transport].createSink(4, listener);
  const parser = new HttpResponseParser(4, sink);
  return { parser, seen };
}

const STREAM = HEAD + chunk('Welcome to comet-lab, 7\n') + chunk('@1700000000123.250 hello\n') + chunk('Chunk 1 for ID 7\n') + chunk('@1700000000456.5 x\n');

test('chunks are counted from the framing whatever the reads: every single split point, and all in one read', () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const { parser, seen } = harness('chunked');
    assert.ok(feedSplit(parser, STREAM, cut === 0 ? [] : [cut]), `cut ${cut}`);
    assert.equal(seen.opens, 1, `cut ${cut}`);
    assert.equal(seen.units.length, 4, `cut ${cut}`);
    assert.deepEqual(seen.units.filter((u) => !Number.isNaN(u)), [1700000000123.25, 1700000000456.5], `cut ${cut}`);
  }
});

test('a byte at a time still gives one chunk per chunk', () => {
  const { parser, seen } = harness('chunked');
  assert.ok(feedSplit(parser, STREAM, Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1)));
  assert.equal(seen.units.length, 4);
  assert.deepEqual(seen.units.filter((u) => !Number.isNaN(u)), [1700000000123.25, 1700000000456.5]);
});

test('chunk extensions, upper-case hex, a big chunk and the last chunk with trailers end the response', () => {
  const big = 'y'.repeat(70000);
  const text = HEAD + '5;name=v\r\nhello\r\n' + `${big.length.toString(16).toUpperCase()}\r\n${big}\r\n` + '0\r\nX-T: 1\r\n\r\n';
  const { parser, seen } = harness('chunked');
  assert.ok(feedSplit(parser, text, [100, 40000]));
  assert.equal(seen.units.length, 2);
  assert.equal(seen.ends, 1);
});

test('malformed heads and chunk sizes are protocol problems with a stable name', () => {
  const cases: Array<[string, string]> = [
    ['HTTQ/1.1 200 OK\r\n\r\n', 'bad-status-line'],
    ['HTTP/1.1 2x0 OK\r\n\r\n', 'bad-status-line'],
    ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'bad-header'],
    [HEAD + 'zz\r\nhello\r\n', 'bad-chunk-size'],
    [HEAD + '\r\n', 'bad-chunk-size'],
    [HEAD + '123456789\r\n', 'chunk-size-too-large'],
    [HEAD + '5\r\nhelloXX', 'bad-chunk-end'],
    ['HTTP/1.1 200 OK\r\n' + 'X: y\r\n'.repeat(4000), 'head-too-large'],
  ];
  for (const [text, problem] of cases) {
    for (const cuts of [[], [Math.floor(text.length / 2)]]) {
      const { parser } = harness('chunked');
      assert.equal(feedSplit(parser, text, cuts), false, text.slice(0, 40));
      assert.equal(parser.problem, problem, text.slice(0, 40));
    }
  }
});

test('a non-2xx status stops the slot without a protocol problem (the sink pauses the parser)', () => {
  const { parser, seen } = harness('chunked');
  assert.equal(feedSplit(parser, 'HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!', []), false);
  assert.equal(parser.problem, undefined);
  assert.deepEqual(seen.refused, [403]);
  assert.equal(seen.opens, 0);
});

test('an interim 100 Continue is skipped: the final answer after it opens the stream', () => {
  const { parser, seen } = harness('chunked');
  assert.ok(feedSplit(parser, 'HTTP/1.1 100 Continue\r\n\r\n' + STREAM, [10, 30]));
  assert.equal(seen.opens, 1);
  assert.equal(seen.units.length, 4);
});

const SSE =
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n' +
  chunk(': ping\n\n') +
  chunk('id: 1\ndata: Welcome to comet-lab, 3\n\n') +
  chunk('id: 2\r\ndata: @1700000000001.125 hi\r\n\r\nid: 3\n') +
  chunk('data: @1700000000002.5 second\ndata: more\n\n');

test('SSE events are counted at their blank line and carry the first data line timestamp, on any split', () => {
  for (let cut = 0; cut <= SSE.length; cut++) {
    const { parser, seen } = harness('sse');
    assert.ok(feedSplit(parser, SSE, cut === 0 ? [] : [cut]), `cut ${cut}`);
    assert.equal(seen.units.length, 3, `cut ${cut}`);
    assert.deepEqual(seen.units.filter((u) => !Number.isNaN(u)), [1700000000001.125, 1700000000002.5], `cut ${cut}`);
  }
});

test('SSE over a close-delimited body, and a malformed field is a protocol problem', () => {
  const { parser, seen } = harness('sse');
  assert.ok(feedSplit(parser, 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: @5.5 a\n\ndata: b\n\n', [50]));
  assert.deepEqual(seen.units.map((u) => (Number.isNaN(u) ? 'none' : u)), [5.5, 'none']);
  const bad = harness('sse');
  assert.equal(feedSplit(bad.parser, 'HTTP/1.1 200 OK\r\n\r\ndata: a\n\nbogus line\n\n', []), false);
  assert.equal(bad.parser.problem, 'bad-sse-field');
  assert.equal(bad.seen.units.length, 1);
});

test('long-poll: 200 answers are units, 204 is not, and the next answer on the same connection is parsed', () => {
  const text =
    'HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n@1700000000009.75 msg\n' +
    'HTTP/1.1 204 No Content\r\n\r\n' +
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    chunk('@1700000000010 a\n') +
    '0\r\n\r\n';
  for (let cut = 0; cut <= text.length; cut += 7) {
    const { parser, seen } = harness('poll');
    assert.ok(feedSplit(parser, text, cut === 0 ? [] : [cut]));
    assert.equal(seen.opens, 3, 'two 200s and a 204');
    assert.deepEqual(seen.units, [1700000000009.75, 1700000000010]);
    assert.equal(seen.ends, 3);
  }
});

test('resumable transports send back the last event id they saw', () => {
  const poll = harness('poll');
  const sink = (poll.parser as unknown as { sink: { extraHeaders(slot: number): string } }).sink;
  assert.equal(sink.extraHeaders(1), '');
  assert.ok(feedSplit(poll.parser, 'HTTP/1.1 200 OK\r\nComet-Event-Id: 42\r\nContent-Length: 5\r\n\r\n@1 x\n', []));
  assert.equal(sink.extraHeaders(1), 'Last-Event-ID: 42\r\n');
  const sse = harness('sse');
  const sseSink = (sse.parser as unknown as { sink: { extraHeaders(slot: number): string } }).sink;
  assert.ok(feedSplit(sse.parser, SSE, [70]));
  assert.equal(sseSink.extraHeaders(1), 'Last-Event-ID: 3\r\n');
});
