/**
 * Test helper: a throwaway HTTP-ish server on a free loopback port whose answer to each connection is scripted,
 * to make a real server misbehave in one precise way (refuse, reset, bad status line, bad chunk size, ...).
 */
import net from 'node:net';

export interface ScriptedServer {
  port: number;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/** `onRequest` runs once per connection when the request head has arrived. */
export function scriptedServer(onRequest: (socket: net.Socket, head: string) => void, host = '127.0.0.1'): Promise<ScriptedServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    let answered = false;
    socket.on('data', (d) => {
      if (answered) return;
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        answered = true;
        onRequest(socket, head);
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, host, () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sockets,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n';

export function chunk(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

/** A port nothing listens on (bound then released). */
export function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
