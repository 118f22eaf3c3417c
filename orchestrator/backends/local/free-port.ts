/**
 * A free TCP port for the server, chosen below the ephemeral range: a listener inside
 * net.ipv4.ip_local_port_range can have its port taken by an outgoing connection (EADDRINUSE on restart).
 */
import { createServer } from 'node:net';

export async function freePortBelow(low: number, attempts = 50): Promise<number> {
  const floor = Math.min(10000, Math.floor(low / 2));
  for (let i = 0; i < attempts; i++) {
    const port = floor + Math.floor(Math.random() * (low - floor - 1));
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error(`no free port below ${low} after ${attempts} attempts`);
}
