/**
 * Server-Sent Events: each payload is one event. Messages carry `id: <epoch>-<seq>` (the router's global sequence
 * number in this server run) so a reconnecting client resumes with Last-Event-ID; the welcome and heartbeats carry
 * no id so they never move the client's cursor. A client that comes back with an id from another run first gets
 * `event: reset` whose id is the start of this run. A multi-line body becomes several `data:` lines, which
 * EventSource joins with newlines.
 */
import { heartbeatChunk, messageChunk, welcomeChunk } from '../../shared/message-format.ts';
import { currentEpoch, eventId } from './event-position.ts';
import type { TransportFraming } from './transport.ts';

const dataLines = (line: string) => `data: ${line.replace(/\r\n|\r|\n/g, '\ndata: ')}\n\n`;

export const sse: TransportFraming = {
  name: 'sse',
  contentType: 'text/event-stream; charset=utf-8',
  // welcome and heartbeat lines hold no line break (ids are [A-Za-z0-9_-]): one `data:` field each, no regex
  welcome: (id) => `data: ${welcomeChunk(id)}\n`,
  heartbeat: (n, id) => `data: ${heartbeatChunk(n, id)}\n`,
  message: (seq, sentAtMs, body) => `id: ${eventId(seq)}\n${dataLines(messageChunk(sentAtMs, body).slice(0, -1))}`,
  reset: () => `event: reset\nid: ${eventId(0)}\ndata: ${currentEpoch()}\n\n`,
};
