/** The seed's transport: one HTTP chunk per event, text lines as shared/message-format.ts defines them. */
import { heartbeatChunk, messageChunk, welcomeChunk } from '../../shared/message-format.ts';
import type { TransportFraming } from './transport.ts';

export const chunked: TransportFraming = {
  name: 'chunked',
  contentType: 'text/html; charset=utf-8',
  welcome: welcomeChunk,
  heartbeat: heartbeatChunk,
  message: (_seq, sentAtMs, body) => messageChunk(sentAtMs, body),
  reset: () => undefined,
};
