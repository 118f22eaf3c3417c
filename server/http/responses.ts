/**
 * The exact bytes the lean engines (raw, net) write: status lines, stream heads, chunk framing, error bodies.
 * The Date header is cached per second and shared by every response.
 */
// Not node:http's STATUS_CODES: loading node:http costs a worker about 19 MB of RSS.
const STATUS_CODES: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  205: 'Reset Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

export const SERVER_NAME = 'comet-lab';

let dateSecond = 0;
let dateValue = '';
/** RFC 9110 IMF-fixdate, refreshed at most once a second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** The head of a streaming response; HTTP/1.0 clients get no chunking and the body ends when the connection does. */
export function streamHead(contentType: string, chunkedFraming: boolean): string {
  return (
    `HTTP/1.1 200 OK\r\nServer: ${SERVER_NAME}\r\nDate: ${httpDate()}\r\nContent-Type: ${contentType}\r\n` +
    `Cache-Control: no-cache\r\n${chunkedFraming ? 'Transfer-Encoding: chunked\r\n' : 'Connection: close\r\n'}\r\n`
  );
}

/** One HTTP chunk around `payload` (its UTF-8 byte length in hex). */
export function chunk(payload: string): string {
  return `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`;
}

export const LAST_CHUNK = '0\r\n\r\n';

/** A complete response with a Content-Length body. */
export function fullResponse(
  status: number,
  contentType: string,
  body: string,
  keepAlive: boolean,
  extraHeaders = '',
): string {
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\nServer: ${SERVER_NAME}\r\nDate: ${httpDate()}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}` +
    `${keepAlive ? '' : 'Connection: close\r\n'}\r\n${body}`
  );
}

/** A short error code for a status, used in every JSON error body. */
export function errorCode(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z]+/g, '_');
}

/** Error responses always close the connection: the rest of the request may not have been read. */
export function errorResponse(status: number, message: string, extraHeaders = ''): string {
  return fullResponse(
    status,
    'application/json; charset=utf-8',
    JSON.stringify({ error: errorCode(status), message }),
    false,
    extraHeaders,
  );
}

/** 204 / 200 for long-polling; keeps the connection open when the client allows. */
export function noContent(keepAlive: boolean): string {
  return (
    `HTTP/1.1 204 No Content\r\nServer: ${SERVER_NAME}\r\nDate: ${httpDate()}\r\nCache-Control: no-cache\r\n` +
    `${keepAlive ? '' : 'Connection: close\r\n'}\r\n`
  );
}

/**
 * 205 for a long-poll that named a position of another server run: no content, `Comet-Event-Id` is where this run
 * starts and `Comet-Reset` says why (RFC 9110 15.3.6: 205 carries no content, so Content-Length: 0).
 */
export function resetContent(keepAlive: boolean, eventId: string): string {
  return (
    `HTTP/1.1 205 Reset Content\r\nServer: ${SERVER_NAME}\r\nDate: ${httpDate()}\r\nCache-Control: no-cache\r\n` +
    `Comet-Event-Id: ${eventId}\r\nComet-Reset: epoch\r\nContent-Length: 0\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`
  );
}
