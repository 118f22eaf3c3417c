/**
 * A bench client process: opens `count` comet streams on raw TCP handles (lean, so the client side is cheap),
 * waits for each welcome, prints `held <n>` once they all are, and holds them until its stdin closes or SIGTERM.
 * Usage: hold-streams.ts <host> <port> <count> <idPrefix> <sourceAddress>
 */
import { closeRaw, connectRaw, errName, RawReader, type TcpHandle, writeRaw } from '../../shared/raw-tcp/raw-tcp.ts';

const [host = '127.0.0.1', portText = '8000', countText = '1000', prefix = 'bench', source = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const IN_FLIGHT = 256;

let started = 0;
let welcomed = 0;
let failed = 0;
let inFlight = 0;
const handles: TcpHandle[] = [];

const reader = new RawReader(
  (h) => {
    if (h.w === 1) return;
    h.w = 1;
    welcomed++;
    inFlight--;
    pump();
  },
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
      writeRaw(h, `GET /test/${prefix}-${i} HTTP/1.1\r\nHost: bench\r\n\r\n`);
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
