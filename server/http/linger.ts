/**
 * A lingering close (as nginx's lingering_close): after an error answered before the request body was read, the
 * connection is half-closed and what the client still sends is read and dropped for a bounded time and amount before
 * the socket closes. Closing at once with unread bytes makes the kernel send a reset, and a client still writing its
 * body can then fail on a write before it reads the answer (measured: 1 upload in 8 saw EPIPE and no 401). The
 * bounds keep the point of not reading the body: a 10 GiB upload costs at most LINGER_BYTES.
 */
import type { Socket } from 'node:net';

const LINGER_MS = 500;
const LINGER_BYTES = 16 * 1024 * 1024;

/** Makes the socket's next destroySoon() (node:http calls it after a `Connection: close` answer) linger first. */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringDestroySoon(this: Socket) {
    if (this.destroyed) return;
    let dropped = 0;
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    this.on('data', (d: Buffer) => {
      dropped += d.length;
      if (dropped > LINGER_BYTES) this.destroy();
    });
    this.on('end', () => this.destroy());
    this.end();
    this.resume();
  };
}
