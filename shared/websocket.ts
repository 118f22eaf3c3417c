/**
 * RFC 6455 constants and the one computation both ends need: the server (server/transports/ws-frame.ts) answers a
 * handshake with Sec-WebSocket-Accept, the load generator (loadgen/transports/ws-transport.ts) checks it.
 */
import { createHash } from 'node:crypto';

/** The GUID a Sec-WebSocket-Key is hashed with (RFC 6455 1.3). */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key.trim() + WS_GUID).digest('base64');
}

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes the lab sends or looks for (RFC 6455 7.4.1). 1005: a close frame without a code (never sent). */
export const CLOSE = { normal: 1000, goingAway: 1001, protocol: 1002, badData: 1007, tooBig: 1009, noCode: 1005 } as const;

/** Close codes a peer may put in a close frame (RFC 6455 7.4.1 and the IANA registry; 1004-1006 and 1015 never). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
