/**
 * Long-polling: a response carries the message lines that were waiting (one, or several after a resume) with
 * `Comet-Event-Id: <seq>` naming the last one; the client sends it back as `Last-Event-ID` (or `?lastEventId=`)
 * on its next poll to get what arrived in between. No welcome, no heartbeats: a poll with nothing to say
 * answers 204 after the configured wait.
 */
import { messageChunk } from '../../shared/message-format.ts';
import type { TransportFraming } from './transport.ts';

export const poll: TransportFraming = {
  name: 'poll',
  contentType: 'text/plain; charset=utf-8',
  welcome: () => undefined,
  heartbeat: () => undefined,
  message: (_seq, sentAtMs, body) => messageChunk(sentAtMs, body),
  reset: () => undefined,
};
