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
// - kernelSocketBytes: slab growth per loopback socket measured on this kind of host by kernel/bench/socket-cost.ts
//   (Slab of /proc/meminfo before and after holding idle loopback connections, divided by 2 sockets each).
// - processBaseBytes: RSS of an idle `node_modules/.bin/node` (Node 24) with the lab's imports, same benchmark.
// - tcpMemPagesPerBusyConnection: TCP charges socket memory in whole pages (SK_MEM_QUANTUM), so a queued chunk of a
//   few bytes costs one page of tcp_mem until the reader takes it.
export const CONNECTION_COSTS: Readonly<ConnectionCosts> = Object.freeze({
  serverBytes: 5 * 1024,
  loadgenBytes: 3 * 1024,
  kernelSocketBytes: 2 * 1024,
  processBaseBytes: 48 * 1024 * 1024,
  fdReservePerProcess: 200,
  tcpMemPagesPerBusyConnection: 1,
  memoryHeadroom: 0.9,
});
