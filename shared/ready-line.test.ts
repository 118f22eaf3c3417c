import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReadyLine, readyLine, readyPrefix } from './ready-line.ts';

test('a ready line reads back as the JSON it was printed with; other lines are not ready lines', () => {
  const line = readyLine('server', { host: '127.0.0.1', port: 8000 });
  assert.equal(line, 'comet-lab server ready {"host":"127.0.0.1","port":8000}');
  assert.deepEqual(parseReadyLine(line, readyPrefix('server')), { host: '127.0.0.1', port: 8000 });
  assert.equal(parseReadyLine(line, readyPrefix('loadgen')), undefined);
  assert.equal(parseReadyLine(`loadgen: ${line}`, readyPrefix('server')), undefined, 'only at the start of the line');
  assert.deepEqual(parseReadyLine('hold-server ready {"port":1}\r', 'hold-server ready '), { port: 1 });
});

test('a ready line whose JSON is broken or not an object throws, naming the line', () => {
  for (const bad of ['comet-lab loadgen ready {"port":', 'comet-lab loadgen ready 5', 'comet-lab loadgen ready ', 'comet-lab loadgen ready null']) {
    assert.throws(() => parseReadyLine(bad, readyPrefix('loadgen')), (err: Error) => err instanceof SyntaxError && err.message.includes(bad));
  }
});
