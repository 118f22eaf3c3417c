/**
 * Positions in this server run: SSE `id:` and the long-poll `Comet-Event-Id` are `<epoch>-<seq>`
 * (shared/event-id.ts). The epoch is chosen by the supervisor at start and set once per process with setEpoch;
 * a Last-Event-ID from another epoch becomes CURSOR_RESET (the client is told to start over).
 */
import { formatEventId, parseEventId } from '../../shared/event-id.ts';

let epoch = '';

/** This server run's epoch (the supervisor chooses it; workers are told at start). */
export function setEpoch(e: string): void {
  epoch = e;
}

export function currentEpoch(): string {
  return epoch;
}

/** The position after message `seq` in this epoch, as written in SSE `id:` and `Comet-Event-Id`. */
export function eventId(seq: number): string {
  return formatEventId(epoch, seq);
}

/** No Last-Event-ID: nothing to replay. */
export const NO_CURSOR = -1;
/** A Last-Event-ID from another epoch (or not a position at all): the client is told to reset, then replayed from 0. */
export const CURSOR_RESET = -2;

/** A Last-Event-ID as a sequence number of this epoch, or NO_CURSOR / CURSOR_RESET. */
export function cursorOf(lastEventId: string | undefined): number {
  if (lastEventId === undefined || lastEventId === '') return NO_CURSOR;
  const p = parseEventId(lastEventId);
  return p !== undefined && p.epoch === epoch ? p.seq : CURSOR_RESET;
}
