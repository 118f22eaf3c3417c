import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headEnd, parseHead, type RequestHead } from './request-head.ts';
import { route } from './routes.ts';

const parse = (s: string) => {
  const b = Buffer.from(s, 'latin1');
  return parseHead(b, headEnd(b));
};

test('a well-formed head', () => {
  const h = parse('GET /sse/x?lastEventId=4 HTTP/1.1\r\nHost: a\r\nLast-Event-ID: 7\r\nConnection: close\r\n\r\n') as RequestHead;
  assert.equal(h.method, 'GET');
  assert.equal(h.target, '/sse/x?lastEventId=4');
  assert.equal(h.keepAlive, false);
  assert.equal(h.lastEventId, '7');
});

test('malformed heads are 400', () => {
  for (const bad of [
    'GET /x HTTP/1.1\r\n\r\n', // no Host
    'GET  /x HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: a\r\nBad\x00: x\r\n\r\n',
  ]) {
    assert.equal(parse(bad), 400, JSON.stringify(bad));
  }
});

test('versions other than 1.0 and 1.1 are 505', () => {
  for (const v of ['2.0', '0.9', '1.2', '9.9']) assert.equal(parse(`GET /x HTTP/${v}\r\nHost: a\r\n\r\n`), 505, v);
});

test('routes', () => {
  assert.deepEqual(route('GET', '/test/abc'), { kind: 'stream', transport: 'chunked', id: 'abc', head: false, lastEventId: undefined });
  assert.equal(route('GET', '/poll/abc?lastEventId=3').kind, 'stream');
  assert.equal((route('GET', '/poll/abc?lastEventId=3') as { lastEventId: string }).lastEventId, '3');
  assert.deepEqual(route('POST', '/send/x'), { kind: 'api' });
  assert.equal((route('PATCH', '/test/x') as { status: number }).status, 501);
  assert.equal((route('GET', '/favicon.ico') as { status: number }).status, 404);
  assert.equal((route('GET', '/test/a/b') as { status: number }).status, 400);
});
