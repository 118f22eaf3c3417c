/**
 * Test server that can be made slow to accept: a tiny listen backlog, and on command an event loop that is blocked
 * most of the time (a busy wait), so connections queue in the kernel, SYNs beyond the backlog are dropped and
 * retransmitted a second later, and answers come late: what an overloaded comet server looks like to its clients.
 * It answers every request with a chunked 200 and a welcome chunk, then holds the connection.
 *
 *   node loadgen/testing/slow-accept-server.ts [--backlog 8]     prints: slow-accept-server ready {"port","pid"}
 *   stdin: `stall BLOCK_MS PERIOD_MS FOR_MS` (block BLOCK_MS of every PERIOD_MS, for FOR_MS; answers `stalling`,
 *   then `stalled N` when done, N = blocks), `count` (answers `open N`).
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n';
const WELCOME = `${Buffer.byteLength('Welcome\n').toString(16)}\r\nWelcome\n\r\n`;

const { values } = parseArgs({ options: { backlog: { type: 'string', default: '8' } } });
const open = new Set<net.Socket>();
const server = net.createServer((s) => {
  open.add(s);
  s.on('close', () => open.delete(s));
  s.on('error', () => {});
  s.once('data', () => s.write(HEAD + WELCOME));
});

function stall(blockMs: number, periodMs: number, forMs: number): void {
  const until = Date.now() + forMs;
  let blocks = 0;
  const step = () => {
    if (Date.now() >= until) {
      process.stdout.write(`stalled ${blocks}\n`);
      return;
    }
    const end = Date.now() + blockMs;
    while (Date.now() < end) {
      // busy: nothing is accepted, read or written meanwhile
    }
    blocks++;
    setTimeout(step, Math.max(0, periodMs - blockMs));
  };
  process.stdout.write('stalling\n');
  setImmediate(step);
}

server.listen({ port: 0, host: '127.0.0.1', backlog: Number(values.backlog) }, () => {
  process.stdout.write(`slow-accept-server ready ${JSON.stringify({ port: (server.address() as net.AddressInfo).port, pid: process.pid })}\n`);
});
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const [cmd, ...args] = line.trim().split(/\s+/);
    if (cmd === 'stall') stall(Number(args[0]), Number(args[1]), Number(args[2]));
    else if (cmd === 'count') process.stdout.write(`open ${open.size}\n`);
  })
  .on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
