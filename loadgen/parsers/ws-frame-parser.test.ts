/**
 * The WebSocket path of the load generator, parser by parser as the pool drives it: the HTTP parser reads the 101,
 * the ws transport's sink checks the handshake, then the frame parser counts messages. Fed at every split point and
 * one byte at a time, as the chunked parser is. Runs in about a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptFor } from '../../shared/websocket.ts';
import { HttpResponseParser } from './http-response-parser.ts';
import { wsTransport } from '../transports/ws-transport.ts';
import type { UnitListener } from '../transports/transport.ts';
import { feedSplit } from '../testing/feed-split.ts';

interface Seen {
  opens: number;
  refused: Array<[string, number]>;
  units: number[];
  closes: number[];
  writes: Array<{ opcode: number; payload: string }>;
}

/** Unmasks a client frame the sink wrote, checking that it is masked and final. */
function readClientFrame(bytes: Uint8Array): { opcode: number; payload: string } {
  assert.equal(bytes[0]! & 0x80, 0x80, 'final');
  assert.equal(bytes[1]! & 0x80, 0x80, 'a client frame is masked');
  const len = bytes[1]! & 0x7f;
  const payload = Buffer.alloc(len);
  for (let k = 0; k < len; k++) payload[k] = bytes[6 + k]! ^ bytes[2 + (k & 3)]!;
  return { opcode: bytes[0]! & 0x0f, payload: payload.toString('latin1') };
}

function harness() {
  const seen: Seen = { opens: 0, refused: [], units: [], closes: [], writes: [] };
  const listener: UnitListener = {
    onOpen: () => void seen.opens++,
    onRefused: (_slot, cause, status) => void seen.refused.push([cause, status]),
    onUnit: (_slot, sentAt) => void seen.units.push(sentAt),
    onResponseEnd: () => assert.fail('no HTTP response end after an upgrade'),
    onWsClose: (_slot, code) => void seen.closes.push(code),
    write: (_slot, bytes) => (seen.writes.push(readClientFrame(bytes)), true),
  };
  const sink = wsTransport.createSink(4, listener);
  const parser = new HttpResponseParser(4, sink);
  const key = /Sec-WebSocket-Key: (\S+)\r\n/.exec(sink.extraHeaders(1))![1]!;
  return { parser, seen, key };
}

/** A server frame: unmasked unless `mask`; `lenBytes` forces a 2- or 8-byte extended length. */
function frame(opcode: number, payload: string | Buffer, o: { fin?: boolean; rsv?: number; mask?: boolean; lenBytes?: 0 | 2 | 8 } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const len = body.length;
  const lenBytes = o.lenBytes ?? (len < 126 ? 0 : len < 65536 ? 2 : 8);
  const head = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = o.mask ? 0x80 : 0;
  if (lenBytes === 0) head.push(m | len);
  else if (lenBytes === 2) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  if (o.mask) head.push(0, 0, 0, 0); // a zero key leaves the payload as it is
  return Buffer.concat([Buffer.from(head), body]);
}

const head101 = (key: string) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;

const FRAMES = Buffer.concat([
  frame(1, 'Welcome to comet-lab, 7'),
  frame(1, '@1700000000123.250 hello'),
  frame(9, 'p1'),
  frame(1, `@1700000000456.5 ${'x'.repeat(200)}`), // 2-byte extended length
  frame(1, '@1700000000789.125 fr', { fin: false }),
  frame(9, 'p2'), // a control frame inside a fragmented message
  frame(0, 'agm', { fin: false }),
  frame(0, 'ent'),
  frame(1, ''),
  frame(2, Buffer.alloc(300, 1), { lenBytes: 8 }),
  frame(10, ''), // an unsolicited pong: ignored
]);
const UNITS = [NaN, 1700000000123.25, 1700000000456.5, 1700000000789.125, NaN, NaN];

const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, k) => Object.is(x, b[k]));

test('messages are counted from the frames whatever the reads: every split point of the 101 and its frames', () => {
  const probe = harness();
  const total = Buffer.byteLength(head101(probe.key)) + FRAMES.length;
  for (let cut = 0; cut <= total; cut++) {
    const { parser, seen, key } = harness();
    const bytes = Buffer.concat([Buffer.from(head101(key), 'latin1'), FRAMES]);
    assert.ok(feedSplit(parser, bytes, cut === 0 ? [] : [cut]), `cut ${cut}: ${parser.problem}`);
    assert.equal(seen.opens, 1, `cut ${cut}`);
    assert.ok(same(seen.units, UNITS), `cut ${cut}: ${seen.units}`);
    assert.deepEqual(seen.writes, [{ opcode: 10, payload: 'p1' }, { opcode: 10, payload: 'p2' }], `cut ${cut}: pings answered with masked pongs`);
  }
});

test('a byte at a time, and all in one read, give the same messages', () => {
  for (const oneByte of [true, false]) {
    const { parser, seen, key } = harness();
    const bytes = Buffer.concat([Buffer.from(head101(key), 'latin1'), FRAMES]);
    assert.ok(feedSplit(parser, bytes, oneByte ? Array.from({ length: bytes.length - 1 }, (_, i) => i + 1) : []));
    assert.ok(same(seen.units, UNITS), String(seen.units));
    assert.equal(seen.writes.length, 2);
  }
});

test('a close frame is answered with the same code, reported, and pauses the parser (no protocol problem)', () => {
  for (const [payload, code] of [[Buffer.from([0x03, 0xe9]), 1001], [Buffer.alloc(0), 1005], [Buffer.from([0x0f, 0xa0, 0x68, 0x69]), 4000]] as const) {
    const { parser, seen, key } = harness();
    const bytes = Buffer.concat([Buffer.from(head101(key), 'latin1'), frame(1, 'hi'), frame(8, payload), frame(1, 'never read')]);
    assert.equal(feedSplit(parser, bytes, [5]), false);
    assert.equal(parser.problem, undefined);
    assert.deepEqual(seen.closes, [code]);
    assert.equal(seen.units.length, 1);
    assert.deepEqual(seen.writes, [{ opcode: 8, payload: code === 1005 ? '' : payload.subarray(0, 2).toString('latin1') }]);
  }
});

test('a bad handshake is refused: wrong accept, no Upgrade, a 200; a 403 is an HTTP status', () => {
  const cases: Array<[(key: string) => string, [string, number]]> = [
    [(key) => head101(key).replace(acceptFor(key), acceptFor('dGhlIHNhbXBsZSBub25jZQ==')), ['handshake', 101]],
    [(key) => head101(key).replace('Upgrade: websocket\r\n', ''), ['handshake', 101]],
    [(key) => head101(key).replace('Connection: Upgrade\r\n', 'Connection: keep-alive\r\n'), ['handshake', 101]],
    [() => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', ['handshake', 200]],
    [() => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n', ['http_status', 403]],
  ];
  for (const [make, refused] of cases) {
    const { parser, seen, key } = harness();
    assert.equal(feedSplit(parser, Buffer.from(make(key), 'latin1'), []), false);
    assert.equal(parser.problem, undefined);
    assert.deepEqual(seen.refused, [refused]);
    assert.equal(seen.opens, 0);
  }
});

test('frames a server must not send are protocol problems with a stable name, and the client says 1002 first', () => {
  const cases: Array<[Buffer, string]> = [
    [frame(1, 'masked', { mask: true }), 'ws-masked-frame'],
    [frame(1, 'rsv', { rsv: 4 }), 'ws-reserved-bits'],
    [frame(3, 'op3'), 'ws-bad-opcode'],
    [frame(11, 'op11'), 'ws-bad-opcode'],
    [frame(9, 'fragmented ping', { fin: false }), 'ws-bad-control'],
    [frame(9, 'p'.repeat(126)), 'ws-bad-control'],
    [frame(0, 'continues nothing'), 'ws-bad-continuation'],
    [Buffer.concat([frame(1, 'open', { fin: false }), frame(1, 'another')]), 'ws-bad-continuation'],
    [Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), 'ws-frame-too-large'],
  ];
  for (const [bad, problem] of cases) {
    for (const cuts of [[], [1]]) {
      const { parser, seen, key } = harness();
      const head = Buffer.from(head101(key), 'latin1');
      assert.equal(feedSplit(parser, Buffer.concat([head, bad]), cuts.map((c) => head.length + c)), false, problem);
      assert.equal(parser.problem, problem);
      assert.deepEqual(seen.writes.at(-1), { opcode: 8, payload: '\x03\xea' }, `${problem}: close 1002`);
    }
  }
});
