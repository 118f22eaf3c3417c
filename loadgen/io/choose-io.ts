/**
 * `--io auto|raw|net`: which io a pool uses. auto = raw where Node's raw TCP bindings can be used, else net (with a
 * coded warning); raw asked where they cannot be used is an error with a hint. The io module is imported only once
 * chosen, so the net path never touches `process.binding`.
 */
import { loadTcpBindings } from '../../shared/raw-tcp/bindings.ts';
import { EXIT, LabError } from '../../shared/errors.ts';
import type { ClientIo, IoListener, IoName } from './client-io.ts';

export type IoChoice = IoName | 'auto';

/** Builds a pool's io for `capacity` slots. */
export type IoFactory = (capacity: number, listener: IoListener) => ClientIo;

/** The io to use for `asked`, and a warning when auto fell back to net. Throws LAB_ERR_RAW_TCP_UNAVAILABLE. */
export function resolveIo(asked: IoChoice): { io: IoName; warning?: string } {
  if (asked === 'net') return { io: 'net' };
  let why: string;
  try {
    loadTcpBindings();
    return { io: 'raw' };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    why = cause?.code ?? (err as Error).message;
  }
  if (asked === 'raw') {
    throw new LabError('LAB_ERR_RAW_TCP_UNAVAILABLE', `--io raw: Node's raw TCP bindings (process.binding('tcp_wrap'), DEP0111) cannot be used here: ${why}`, {
      exitCode: EXIT.preflight,
      hint: 'use --io net (net.Socket, about 1.8 KB more per connection) or --io auto; the bindings are denied under --permission',
    });
  }
  return { io: 'net', warning: `LAB_WARN_RAW_TCP_UNAVAILABLE: raw TCP bindings unavailable (${why}: process.binding('tcp_wrap')); using --io net (net.Socket)` };
}

/** The factory of a resolved io (imports its module). */
export async function ioFactory(io: IoName): Promise<IoFactory> {
  if (io === 'net') {
    const { NetIo } = await import('./net-io.ts');
    return (capacity, listener) => new NetIo(capacity, listener);
  }
  const { RawIo } = await import('./raw-io.ts');
  return (capacity, listener) => new RawIo(capacity, listener);
}
