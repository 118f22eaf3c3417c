/**
 * `--source-ips`: a list (`127.0.0.2,127.0.0.3`), a range (`127.0.0.2-127.0.0.40`), a CIDR (`127.0.0.0/24`), or a
 * comma list mixing them. Each source address has its own ephemeral port range, so N addresses hold N times as many
 * connections to one server port. An address this host cannot bind is refused at start.
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';

export const MAX_SOURCE_ADDRESSES = 65536;

function toInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses the flag's value; returns the addresses or the problems found (every one). */
export function parseSourceAddresses(spec: string): { addresses: string[]; problems: string[] } {
  const addresses: string[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const add = (ip: string) => {
    if (!seen.has(ip)) {
      seen.add(ip);
      addresses.push(ip);
    }
  };
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    if (part.includes('/')) {
      const [base, bitsText] = part.split('/');
      const bits = Number(bitsText);
      if (!isIPv4(base!) || !/^\d+$/.test(bitsText!) || bits < 8 || bits > 32) {
        problems.push(`--source-ips: "${part}" is not an IPv4 CIDR with a prefix from /8 to /32`);
        continue;
      }
      const size = 2 ** (32 - bits);
      const first = toInt(base!) - (toInt(base!) % size);
      // Skip the network and broadcast addresses of a real subnet; /31 and /32 have none.
      const lo = size > 2 ? first + 1 : first;
      const hi = size > 2 ? first + size - 2 : first + size - 1;
      if (hi - lo + 1 > MAX_SOURCE_ADDRESSES) {
        problems.push(`--source-ips: "${part}" has ${hi - lo + 1} addresses; at most ${MAX_SOURCE_ADDRESSES}`);
        continue;
      }
      for (let n = lo; n <= hi; n++) add(toIp(n));
    } else if (part.includes('-')) {
      const [a, b] = part.split('-').map((s) => s.trim());
      if (!isIPv4(a!) || !isIPv4(b!) || toInt(a!) > toInt(b!)) {
        problems.push(`--source-ips: "${part}" is not a range of IPv4 addresses low-high`);
        continue;
      }
      if (toInt(b!) - toInt(a!) + 1 > MAX_SOURCE_ADDRESSES) {
        problems.push(`--source-ips: "${part}" has more than ${MAX_SOURCE_ADDRESSES} addresses`);
        continue;
      }
      for (let n = toInt(a!); n <= toInt(b!); n++) add(toIp(n));
    } else if (isIPv4(part)) {
      add(part);
    } else {
      problems.push(`--source-ips: "${part}" is not an IPv4 address, range or CIDR`);
    }
  }
  if (addresses.length === 0 && problems.length === 0) problems.push('--source-ips: no address given');
  return { addresses, problems };
}

/**
 * The addresses this host cannot bind (EADDRNOTAVAIL: not on any interface), each with the reason. A UDP bind to
 * port 0 asks the kernel the same question a TCP bind would, with no TCP port taken and no raw binding needed.
 */
export async function unbindableAddresses(addresses: string[]): Promise<string[]> {
  const results = await Promise.all(
    addresses.map(
      (ip) =>
        new Promise<string | undefined>((resolve) => {
          const socket = createSocket('udp4');
          socket.once('error', (err: NodeJS.ErrnoException) => {
            socket.close();
            resolve(`${ip} (${err.code ?? err.message})`);
          });
          socket.bind(0, ip, () => socket.close(() => resolve(undefined)));
        }),
    ),
  );
  return results.filter((r): r is string => r !== undefined);
}
