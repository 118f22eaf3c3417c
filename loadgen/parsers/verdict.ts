/**
 * What a sink answers a parser with, llhttp's way (a callback's return code): go on, pause, or a protocol problem.
 * Pause means the sink ended the connection itself (a 4xx, a refused handshake, a close frame): parsing the slot
 * stops until it is reset for a new connection. A problem stops it too, and the pool counts it under `protocol`.
 */

/** A stable detail for a protocol error (shown in /status `protocolProblems`; the cause counted is `protocol`). */
export const PROTOCOL_PROBLEMS = [
  'bad-status-line',
  'head-too-large',
  'bad-header',
  'bad-chunk-size',
  'chunk-size-too-large',
  'bad-chunk-end',
  'bad-sse-field',
  'ws-masked-frame', // a server frame with the mask bit (RFC 6455 5.1: never)
  'ws-reserved-bits', // RSV1-3 set without an extension
  'ws-bad-opcode',
  'ws-bad-control', // a control frame fragmented or over 125 bytes, or a close frame with 1 byte
  'ws-bad-continuation', // a continuation with no message open, or a new message inside one
  'ws-frame-too-large', // a 64-bit length beyond 2^53
] as const;
export type ProtocolProblem = (typeof PROTOCOL_PROBLEMS)[number];

export type Verdict = number;
export const CONTINUE: Verdict = 0;
export const PAUSE: Verdict = 1;

/** The verdict for a protocol problem. */
export function failWith(problem: ProtocolProblem): Verdict {
  return 2 + PROTOCOL_PROBLEMS.indexOf(problem);
}

/** The problem a verdict (neither CONTINUE nor PAUSE) stands for. */
export function problemOf(v: Verdict): ProtocolProblem {
  return PROTOCOL_PROBLEMS[v - 2]!;
}
