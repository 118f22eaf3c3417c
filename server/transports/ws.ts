/**
 * WebSocket (RFC 6455, `GET /ws/:id` with an Upgrade): every payload is one text frame holding the
 * shared/message-format.ts line without its newline (a frame already delimits it). The welcome, the heartbeats and
 * the routed messages are the chunked stream's lines; the binary framing is ws-frame.ts's (lean engines) or the
 * `ws` library's (http/express engines). No content type: the answer is 101 Switching Protocols.
 */
import { heartbeatLine, messageLine, welcomeLine } from '../../shared/message-format.ts';
import type { TransportFraming } from './transport.ts';

export const ws: TransportFraming = {
  name: 'ws',
  contentType: '',
  welcome: welcomeLine,
  heartbeat: heartbeatLine,
  message: (_seq, sentAtMs, body) => messageLine(sentAtMs, body),
  reset: () => undefined,
};
