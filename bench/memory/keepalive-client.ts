/**
 * Holds N idle HTTP/1.1 keep-alive connections to a server (the nginx floor of the memory stage): each connection
 * sends one `GET /`, reads the whole answer and then stays open, idle. Runs as its own process so its sockets
 * never share the bench's file limit. Prints `comet-lab keepalive-client held {"held","errors"}` once every
 * connection is either held or failed, then holds until stdin closes or --duration passes, and exits.
 *
 *   node bench/memory/keepalive-client.ts --port 8080 --n 15000 [--duration 600]
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, n: { type: 'string' }, duration: { type: 'string', default: '600' }, host: { type: 'string', default: '127.0.0.1' } } });
const port = Number(values.port);
const n = Number(values.n);
const duration = Number(values.duration);
if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(n) || n < 1 || !(duration > 0)) {
  process.stderr.write('usage: keepalive-client.ts --port <1-65535> --n <connections> [--duration <seconds>]\n');
  process.exit(2);
}

const IN_FLIGHT = 200; // connections being set up at once: enough for ~5,000/s, little enough for the accept queue
const REQUEST = `GET / HTTP/1.1\r\nHost: ${values.host}\r\nConnection: keep-alive\r\n\r\n`;
const sockets: net.Socket[] = [];
let started = 0;
let held = 0;
let errors = 0;
let inFlight = 0;
let reported = false;
const byCause: Record<string, number> = {};

function report(): void {
  if (reported || held + errors < n) return;
  reported = true;
  process.stdout.write(`comet-lab keepalive-client held ${JSON.stringify({ held, errors, byCause, pid: process.pid })}\n`);
}

function openOne(): void {
  started++;
  inFlight++;
  const s = net.connect({ port, host: values.host });
  sockets.push(s);
  let answered = false;
  let settled = false;
  const settle = (ok: boolean) => {
    if (settled) return;
    settled = true;
    inFlight--;
    if (ok) held++;
    else errors++;
    report();
    pump();
  };
  s.setNoDelay(true);
  // A SYN dropped by a full accept queue is retried after 1, 3, 7 s...: give each connection 15 s, then count it.
  s.setTimeout(15_000, () => {
    if (answered) return;
    byCause.timeout = (byCause.timeout ?? 0) + 1;
    settled ? s.destroy() : (settle(false), s.destroy());
  });
  s.on('connect', () => s.write(REQUEST));
  s.on('data', (d: Buffer) => {
    // The floor answers a short fixed body: the answer is complete once its terminating newline has arrived.
    if (!answered && d.includes('ok\n')) {
      answered = true;
      s.setTimeout(0); // idle from here on, for as long as the bench holds it
      settle(true);
    }
  });
  s.on('error', (err: NodeJS.ErrnoException) => {
    if (!settled) byCause[err.code ?? 'other'] = (byCause[err.code ?? 'other'] ?? 0) + 1;
    settle(false);
  });
  s.on('close', () => {
    if (answered && settled) {
      // Held, then closed by the server (nginx reclaims idle keep-alive connections when its pool runs low).
      held--;
      errors++;
      byCause.closed = (byCause.closed ?? 0) + 1;
      report();
      return;
    }
    settle(false);
  });
}

function pump(): void {
  while (inFlight < IN_FLIGHT && started < n) openOne();
}

const stop = () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, duration * 1000).unref();
setInterval(() => undefined, 60_000); // keep the loop alive while the connections idle
pump();
if (process.env.KEEPALIVE_DEBUG) setInterval(() => process.stderr.write(`started ${started} held ${held} errors ${errors} inFlight ${inFlight} ${JSON.stringify(byCause)}\n`), 2000).unref();
