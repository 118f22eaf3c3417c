/**
 * A minimal comet server on raw handles, for the load generator's own tests and benchmarks (the real server is
 * server/; this one exists so loadgen can be measured without it, and so a test can hold more connections than one
 * process may by starting several with reusePort). It answers any request with a chunked 200 and a welcome chunk
 * (a WebSocket upgrade with a 101 and a welcome frame), then holds the connection. Commands on stdin, one per line: `broadcast` (a message chunk to every connection,
 * answers `sent N`), `count` (answers `open N`), `close` (closes every connection, answers `closed N`).
 *
 *   node loadgen/bench/hold-server.ts --port 0 [--host 127.0.0.1] [--reuse-port]
 *   prints: hold-server ready {"host","port","pid"}
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { nowMs } from '../../shared/clock.ts';
import { messageChunk, messageLine, welcomeChunk, welcomeLine } from '../../shared/message-format.ts';
import { acceptFor } from '../../shared/websocket.ts';
import { closeRaw, listenRaw, RawReader, writeRaw, type TcpHandle } from '../../shared/raw-tcp/raw-tcp.ts';

const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n';

function chunk(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

/** An unmasked text frame (payloads here are under 126 bytes). */
function textFrame(text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, body.length]), body]);
}

/** The answer to a request head: a 101 and a welcome frame for an upgrade, else a chunked 200 and a welcome chunk. */
function answer(head: string, n: number): string | Buffer {
  const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(head)?.[1];
  if (key === undefined) return HEAD + chunk(welcomeChunk(String(n)));
  const upgrade = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
  return Buffer.concat([Buffer.from(upgrade, 'latin1'), textFrame(welcomeLine(String(n)))]);
}

export function startHoldServer(host: string, port: number, reusePort: boolean) {
  const open = new Set<TcpHandle>();
  const reader = new RawReader(
    (h, data) => {
      if (h.answered) return;
      h.answered = true;
      h.ws = /\r\nupgrade:\s*websocket/i.test(data.toString('latin1'));
      writeRaw(h, answer(data.toString('latin1'), open.size));
    },
    (h) => {
      open.delete(h);
      closeRaw(h);
    },
  );
  const listener = listenRaw({
    host,
    port,
    reusePort,
    backlog: 4096,
    onConnection(h) {
      h.answered = false;
      h.ws = false;
      open.add(h);
      reader.start(h);
    },
  });
  return {
    port: listener.port,
    open,
    broadcast(): number {
      const at = nowMs();
      const bytes = chunk(messageChunk(at, 'broadcast'));
      const frame = textFrame(messageLine(at, 'broadcast'));
      for (const h of open) writeRaw(h, h.ws ? frame : bytes);
      return open.size;
    },
    closeAll(): number {
      const n = open.size;
      for (const h of open) closeRaw(h);
      open.clear();
      return n;
    },
    close: () => listener.close(),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, 'reuse-port': { type: 'boolean', default: false } } });
  const server = startHoldServer(values.host, Number(values.port), values['reuse-port']);
  process.stdout.write(`hold-server ready ${JSON.stringify({ host: values.host, port: server.port, pid: process.pid })}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'broadcast') process.stdout.write(`sent ${server.broadcast()}\n`);
    else if (cmd === 'count') process.stdout.write(`open ${server.open.size}\n`);
    else if (cmd === 'close') process.stdout.write(`closed ${server.closeAll()}\n`);
  }).on('close', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
