/**
 * The comet transports differ only in how a payload is framed (inside the HTTP body, or in WebSocket frames after
 * an upgrade); routing, heartbeats and delivery are the same for all four. Payloads are the shared/message-format.ts
 * lines; positions are event-position.ts's.
 */
import type { Transport } from '../../shared/contracts.ts';
import { chunked } from './chunked.ts';
import { poll } from './poll.ts';
import { sse } from './sse.ts';
import { ws } from './ws.ts';

export interface TransportFraming {
  readonly name: Transport;
  readonly contentType: string;
  /** First event of a stream; undefined when the transport has none (poll). */
  welcome(id: string): string | undefined;
  /** The n-th heartbeat; undefined when the transport has none (poll). */
  heartbeat(n: number, id: string): string | undefined;
  /** A routed message: `seq` is its event id, `sentAtMs` the server's send timestamp. */
  message(seq: number, sentAtMs: number, body: string): string;
  /** The event telling a client that resumed from another epoch to start over; undefined when it has none. */
  reset(): string | undefined;
}

/** Index = the transport code kept per stream (a small number instead of a reference). */
export const TRANSPORTS: readonly TransportFraming[] = [chunked, sse, poll, ws];
export const TRANSPORT_CODE: Record<Transport, number> = { chunked: 0, sse: 1, poll: 2, ws: 3 };
