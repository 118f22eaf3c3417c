/**
 * Per-connection and per-process costs the capacity arithmetic uses: the one place these numbers live, so the doctor,
 * the planner's preflight and the report's "expected" column agree.
 */

export interface ConnectionCosts {
  /** Server user-space bytes per held stream. */
  serverBytes: number;
  /** Load-generator user-space bytes per held connection. */
  loadgenBytes: number;
  /** Kernel bytes per TCP socket (struct tcp_sock, socket inode, file, epoll item); two per loopback connection. */
  kernelSocketBytes: number;
  /** Resident bytes of one idle Node 24 process before it holds any connection. */
  processBaseBytes: number;
  /** File descriptors a process keeps for itself (stdio, epoll, IPC, listeners, libuv); the rest hold connections. */
  fdReservePerProcess: number;
  /** tcp_mem pages one connection charges while one small chunk sits unread in its receive queue (one quantum). */
  tcpMemPagesPerBusyConnection: number;
  /** Share of available memory the lab plans to use; the rest is headroom for page cache, bursts and the kernel. */
  memoryHeadroom: number;
}

// Where the numbers come from:
// - serverBytes 5 KB, loadgenBytes 3 KB: the lab's targets for its lean streaming paths (the seed reached ~8 KB per
//   connection in Erlang); the server and loadgen benchmarks report the measured figure, this is the planning value.
// - kernelSocketBytes 3,800: measured by kernel/bench/socket-cost.ts on this kind of host (Linux 6.18, 2 cores, 24 GiB;
//   5,000 idle loopback connections = 10,000 sockets, median of 3 rounds, 2026-11-24): slab objects per socket are
//   TCP 2,359 + sock_inode_cache 826 + eventpoll_epi 206 + filp 189 + dentry 187 + kmalloc-192 26 = 3,793 bytes
//   (Slab in /proc/meminfo grew 3,346 bytes per socket, partly filling free slots). `struct tcp_sock` alone is
//   2,368 bytes on this kernel, so older "1.5-2 KB per socket" figures do not hold here. Two sockets per connection.
// - processBaseBytes 56 MiB: same benchmark, RSS of an idle Node 24 process: 41 MiB bare, 68 MiB after importing
//   express and prom-client; the lab runs as many load-generator processes (lean) as server workers (express).
// - tcpMemPagesPerBusyConnection: TCP charges socket memory in whole pages (SK_MEM_QUANTUM), so a queued chunk of a
//   few bytes costs one page of tcp_mem until the reader takes it.
export const CONNECTION_COSTS: Readonly<ConnectionCosts> = Object.freeze({
  serverBytes: 5 * 1024,
  loadgenBytes: 3 * 1024,
  kernelSocketBytes: 3800,
  processBaseBytes: 56 * 1024 * 1024,
  fdReservePerProcess: 200,
  tcpMemPagesPerBusyConnection: 1,
  memoryHeadroom: 0.9,
});
