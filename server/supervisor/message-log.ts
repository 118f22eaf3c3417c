/**
 * Every send and broadcast gets the next global sequence number (the SSE event id) and is kept in a bounded
 * backlog, so a stream that comes back with Last-Event-ID (SSE) or a poll that names its last event gets what it
 * missed. Bounded three ways: messages per id, ids kept (oldest forgotten first), and total body bytes.
 */
import type { LoggedMessage } from '../ipc.ts';

export interface MessageLogLimits {
  perId: number;
  ids: number;
  bytes: number;
}

export const DEFAULT_LOG_LIMITS: MessageLogLimits = { perId: 32, ids: 100_000, bytes: 64 * 1024 * 1024 };

export class MessageLog {
  private seq = 0;
  private readonly byId = new Map<string, LoggedMessage[]>();
  private readonly broadcasts: LoggedMessage[] = [];
  private bytes = 0;
  private readonly limits: MessageLogLimits;

  constructor(limits: MessageLogLimits = DEFAULT_LOG_LIMITS) {
    this.limits = limits;
  }

  /** Logs a message for `id` (null: broadcast) and returns its sequence number. */
  append(id: string | null, at: number, body: string): number {
    const entry: LoggedMessage = [++this.seq, at, body];
    this.bytes += body.length;
    if (id === null) {
      this.broadcasts.push(entry);
      if (this.broadcasts.length > this.limits.perId) this.bytes -= this.broadcasts.shift()![2].length;
    } else {
      let list = this.byId.get(id);
      if (list === undefined) list = [];
      else this.byId.delete(id); // re-insert: Map order is then least recently written first
      this.byId.set(id, list);
      list.push(entry);
      if (list.length > this.limits.perId) this.bytes -= list.shift()![2].length;
      this.evict();
    }
    return this.seq;
  }

  /** Forgets message `seq` of `id` (a send no stream received: it must never reach one later by replay). */
  retract(id: string, seq: number): void {
    const list = this.byId.get(id);
    if (list === undefined) return;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]![0] !== seq) continue;
      this.bytes -= list[i]![2].length;
      list.splice(i, 1);
      if (list.length === 0) this.byId.delete(id);
      return;
    }
  }

  /** What `id` missed after `since`, in order: its own messages and broadcasts. */
  since(id: string, since: number): LoggedMessage[] {
    const out: LoggedMessage[] = [];
    for (const m of this.byId.get(id) ?? []) if (m[0] > since) out.push(m);
    for (const m of this.broadcasts) if (m[0] > since) out.push(m);
    return out.sort((a, b) => a[0] - b[0]);
  }

  get lastSeq(): number {
    return this.seq;
  }

  private evict(): void {
    while (this.byId.size > this.limits.ids || this.bytes > this.limits.bytes) {
      const oldest = this.byId.keys().next();
      if (oldest.done) return;
      for (const m of this.byId.get(oldest.value)!) this.bytes -= m[2].length;
      this.byId.delete(oldest.value);
    }
  }
}
