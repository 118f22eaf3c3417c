/**
 * What a request asks for, decided once for every engine: a comet stream (and which transport), the HTTP API
 * (served by express), or an error status. Shared so that every engine answers the same thing to the same request.
 */
import type { Transport } from '../../shared/contracts.ts';
import { cursorOf } from '../transports/event-position.ts';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export type Route =
  | { kind: 'stream'; transport: Transport; id: string; head: boolean; lastEventId: string | undefined }
  | { kind: 'api' }
  | { kind: 'error'; status: number; message: string };

const STREAM_PREFIX: Record<string, Transport> = { test: 'chunked', sse: 'sse', poll: 'poll', ws: 'ws' };
const API_FIRST_SEGMENTS = new Set(['send', 'broadcast', 'stats', 'health', 'metrics']);

const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/**
 * `lastEventId` from the header wins over `?lastEventId=` (EventSource sends the header on reconnect). A target in
 * absolute form (`http://host/test/a`) is taken by its path, as RFC 9112 3.2.2 requires of every server.
 */
export function route(method: string, target: string, lastEventIdHeader?: string): Route {
  if (target.charCodeAt(0) !== 0x2f) {
    const authority = ABSOLUTE_FORM.exec(target);
    if (authority !== null) target = target.slice(authority[0].length) || '/';
  }
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (path[0] !== '/') return { kind: 'error', status: 400, message: 'request target must be an absolute path' };
  const slash = path.indexOf('/', 1);
  const first = slash < 0 ? path.slice(1) : path.slice(1, slash);
  if (API_FIRST_SEGMENTS.has(first)) return { kind: 'api' };
  const transport = STREAM_PREFIX[first];
  if (transport === undefined || slash < 0) {
    if (method === 'GET' || method === 'HEAD' || method === 'POST') {
      return { kind: 'error', status: 404, message: `no such path: ${path}` };
    }
    return { kind: 'error', status: 501, message: `method ${method} not implemented` };
  }
  if (method !== 'GET' && method !== 'HEAD') {
    return { kind: 'error', status: 501, message: `method ${method} not implemented on ${first} streams` };
  }
  const slice = path.slice(slash + 1);
  if (!ID_PATTERN.test(slice)) return { kind: 'error', status: 400, message: 'id must match [A-Za-z0-9_-]{1,64}' };
  // a slice of 13 characters or more is a V8 sliced string that keeps the whole request head alive for as long
  // as the stream lives: copy it
  const id = slice.length >= 13 ? Buffer.from(slice, 'latin1').toString('latin1') : slice;
  let lastEventId = lastEventIdHeader;
  if (lastEventId === undefined && q >= 0) {
    lastEventId = new URLSearchParams(target.slice(q + 1)).get('lastEventId') ?? undefined;
  }
  return { kind: 'stream', transport, id, head: method === 'HEAD', lastEventId };
}

/**
 * A Last-Event-ID as a position in this server run: its sequence number, NO_CURSOR (-1: absent, nothing replayed)
 * or CURSOR_RESET (-2: from another run, or not a position: the client is told to start over).
 */
export function eventCursor(lastEventId: string | undefined): number {
  return cursorOf(lastEventId);
}
