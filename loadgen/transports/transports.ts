/** The transports by name, for flags and the pool. */
import type { Transport } from '../../shared/contracts.ts';
import { chunkedTransport } from './chunked-transport.ts';
import { pollTransport } from './poll-transport.ts';
import { sseTransport } from './sse-transport.ts';
import type { TransportCodec } from './transport.ts';
import { wsTransport } from './ws-transport.ts';

export const TRANSPORTS: Record<Transport, TransportCodec> = {
  chunked: chunkedTransport,
  sse: sseTransport,
  poll: pollTransport,
  ws: wsTransport,
};
