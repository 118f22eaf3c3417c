/**
 * A bench client process: opens `count` comet streams on raw TCP handles (lean, so the client side is cheap),
 * waits for each answer (the chunked or SSE head and welcome, a WebSocket's 101; a long-poll answers nothing until
 * its wait ends, so it counts once its request is written), prints `held <n> failed <n>` once they all are, and
 * holds them until its stdin closes or SIGTERM.
 * Usage: hold-streams.ts <host> <port> <count> <idPrefix> <sourceAddress> [chunked|sse|poll|ws]
 */
import { randomBytes } from 'node:crypto';
import { closeRaw, connectRaw, errName, RawReader, type TcpHandle, writeRaw } from '../../shared/raw-tcp/raw-tcp.ts';

const [host = '127.0.0.1', portText = '8000', countText = '1000', prefix = 'bench', source = '127.0.0.1', transport = 'chunked'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const IN_FLIGHT = 256;
const PATH: Record<string, string> = { chunked: 'test', sse: 'sse', poll: 'poll', ws: 'ws' };
if (PATH[transport] === undefined) {
  process.stderr.write(`hold-streams: unknown transport ${transport}\n`);
  process.exit(2);
}
// one key for every upgrade: the bench measures the server, not the client's randomness
const WS_HEADERS = transport === 'ws' ? `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` : '';

let started = 0;
let welcomed = 0;
let failed = 0;
let inFlight = 0;
const handles: TcpHandle[] = [];

function held(h: TcpHandle): void {
  if (h.w === 1) return;
  h.w = 1;
  welcomed++;
  inFlight--;
  pump();
}

const reader = new RawReader(
  (h) => held(h),
  (h) => {
    failed++;
    closeRaw(h);
  },
);

function report(): void {
  if (welcomed + failed === count) {
    process.stdout.write(`held ${welcomed} failed ${failed}\n`);
  }
}

function pump(): void {
  while (inFlight < IN_FLIGHT && started < count) {
    const i = started++;
    inFlight++;
    const err = connectRaw({ host, port, localAddress: source }, (status, h) => {
      if (status !== 0) {
        failed++;
        inFlight--;
        process.stderr.write(`connect: ${errName(status)}\n`);
        report();
        return pump();
      }
      handles.push(h);
      h.w = 0;
      reader.start(h);
      writeRaw(h, `GET /${PATH[transport]}/${prefix}-${i} HTTP/1.1\r\nHost: bench\r\n${WS_HEADERS}\r\n`);
      if (transport === 'poll') held(h);
    });
    if (err !== 0) {
      failed++;
      inFlight--;
    }
  }
  report();
}

const stop = () => {
  for (const h of handles) closeRaw(h);
  setTimeout(() => process.exit(0), 100);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
pump();
