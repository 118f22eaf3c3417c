/**
 * A minimal comet server on raw handles, for the load generator's own tests and benchmarks (the real server is
 * server/; this one exists so loadgen can be measured without it, and so a test can hold more connections than one
 * process may by starting several with reusePort). It answers any request with a chunked 200 and a welcome chunk,
 * then holds the connection. Commands on stdin, one per line: `broadcast` (a message chunk to every connection,
 * answers `sent N`), `count` (answers `open N`), `close` (closes every connection, answers `closed N`).
 *
 *   node loadgen/bench/hold-server.ts --port 0 [--host 127.0.0.1] [--reuse-port]
 *   prints: hold-server ready {"host","port","pid"}
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { nowMs } from '../../shared/clock.ts';
import { messageChunk, welcomeChunk } from '../../shared/message-format.ts';
import { closeRaw, listenRaw, RawReader, writeRaw, type TcpHandle } from '../../shared/raw-tcp/raw-tcp.ts';

const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n';

function chunk(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

export function startHoldServer(host: string, port: number, reusePort: boolean) {
  const open = new Set<TcpHandle>();
  const reader = new RawReader(
    (h) => {
      if (h.answered) return;
      h.answered = true;
      writeRaw(h, HEAD + chunk(welcomeChunk(String(open.size))));
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
      open.add(h);
      reader.start(h);
    },
  });
  return {
    port: listener.port,
    open,
    broadcast(): number {
      const bytes = chunk(messageChunk(nowMs(), 'broadcast'));
      for (const h of open) writeRaw(h, bytes);
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
