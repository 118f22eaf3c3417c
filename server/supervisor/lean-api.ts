/**
 * The supervisor's lean path for routed sends: a connection a raw-engine worker hands over arrives as a raw libuv
 * handle, and while its requests are plain `POST /send/:id` (lean-sends.ts) the supervisor reads and answers them
 * on that handle with the lean engines' head parser, as a worker serves streams: no net.Socket, no node:http, no
 * express. The first request that is anything else (another path, a wrong token, a chunked or too large body, a
 * malformed head) goes, with every byte read so far, to node:http and express, which answer it as they always
 * did; the connection stays with them. Sends keep their one sequencer (the router), so their order is unchanged.
 *
 * Measured with 100,000 streams on 6 workers, token on, autocannon on the same 2 cores: 6,661 sends/s through
 * express (supervisor 77 µs per send), 13,009/s here (31 µs). Workers reading sends themselves (tried first, issue
 * 15's other way) cost the supervisor 13-20 µs but the workers 66-108 µs per send and gave 7,600-15,100/s: two more
 * IPC hops, each waking a process that was asleep, about 30 µs a wake-up on this machine (Node IPC ping-pong).
 */
import { MAX_HEAD_BYTES, headEnd, parseHead, type RequestHead } from '../http/request-head.ts';
import { errorResponse } from '../http/responses.ts';
import { closeRaw, RawReader, shutdownRaw, type TcpHandle, writeRaw } from '../../shared/raw-tcp/raw-tcp.ts';
import { bearerCheck } from './admin-token.ts';
import { MAX_SEND_BODY_BYTES, plainSend, sendAnswer, sendTarget } from './lean-sends.ts';
import type { RouteResult } from './router.ts';

export interface LeanApiOptions {
  send(id: string, body: string): Promise<RouteResult>;
  epoch: string;
  adminToken: string | undefined;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  /** Takes a connection at its first request that is not a plain send, with every byte read so far. */
  fallback(handle: TcpHandle, bytes: Buffer): void;
}

/** Per-connection fields on the handle. */
type LeanConn = TcpHandle & {
  la: Buffer | undefined; // bytes not yet answered (an unfinished request, or pipelined ones)
  lb: boolean; // a send is on its way to the router: nothing more is read until it is answered
  lt: number; // when it last read or answered (ms)
};

const SWEEP_MS = 1000;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Whether the request waits for `100 Continue` before its body: true (`Expect: 100-continue` from an HTTP/1.1
 * client, RFC 9110 10.1.1), false (no expectation, or an HTTP/1.0 client, which is never sent a 1xx), or undefined
 * for an expectation this path does not meet (node:http answers it 417).
 */
function waitsForContinue(head: RequestHead): boolean | undefined {
  if (head.expect === undefined || head.minor === 0) return false;
  return head.expect.toLowerCase() === '100-continue' ? head.contentLength > 0 : undefined;
}

export class LeanApi {
  private readonly conns = new Set<LeanConn>();
  private readonly reader: RawReader;
  private readonly authorized: (authorization: string | undefined) => boolean;
  private readonly sweep: NodeJS.Timeout;
  private readonly o: LeanApiOptions;

  constructor(options: LeanApiOptions) {
    this.o = options;
    this.authorized = bearerCheck(options.adminToken);
    // no shared read buffer (useUserBuffer): a connection handed on to node:http must read into net's own buffers
    this.reader = new RawReader(
      (h, data) => this.data(h as LeanConn, data),
      (h) => this.close(h as LeanConn),
    );
    this.sweep = setInterval(() => this.sweepIdle(), SWEEP_MS);
    this.sweep.unref();
  }

  /** Connections held on this path. */
  get count(): number {
    return this.conns.size;
  }

  /** Serves `handle` from the request bytes a worker read (`bytes`) on. */
  take(handle: TcpHandle, bytes: Buffer): void {
    const h = handle as LeanConn;
    h.la = bytes.length > 0 ? bytes : undefined;
    h.lb = false;
    h.lt = Date.now();
    this.conns.add(h);
    if (this.reader.start(h) !== 0) return this.close(h);
    this.serve(h);
  }

  /** Closes the idle ones (none waiting for an answer); returns how many. */
  closeIdle(): number {
    let n = 0;
    for (const h of this.conns) {
      if (h.lb || h.la !== undefined) continue;
      this.close(h);
      n++;
    }
    return n;
  }

  /** Closes every connection and stops the sweep. */
  stop(): void {
    clearInterval(this.sweep);
    for (const h of this.conns) this.close(h);
  }

  private data(h: LeanConn, data: Buffer): void {
    h.lt = Date.now();
    h.la = h.la === undefined ? data : Buffer.concat([h.la, data]);
    if (h.lb) {
      // pipelined behind a send in flight: kept, bounded, until it is answered
      if (h.la.length > MAX_HEAD_BYTES + MAX_SEND_BODY_BYTES) this.close(h);
      return;
    }
    this.serve(h);
  }

  private serve(h: LeanConn): void {
    while (h.la !== undefined && !h.lb) {
      const buf = h.la;
      const end = headEnd(buf);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.handOver(h); // node:http answers 431
        return;
      }
      const head = parseHead(buf, end);
      const id = typeof head === 'number' ? undefined : sendTarget(head);
      if (typeof head === 'number' || typeof id !== 'string' || !plainSend(head, this.authorized(head.authorization))) return this.handOver(h);
      const length = Math.max(0, head.contentLength);
      const expect = waitsForContinue(head);
      if (expect === undefined) return this.handOver(h); // an expectation node:http answers (417)
      if (buf.length < end + length) {
        // the body is still coming; a client that asked `Expect: 100-continue` sends it only once told to (curl
        // waited its 1 s expect timeout for each such send before this), so it is told once, before any byte of it
        if (expect && buf.length === end && writeRaw(h, CONTINUE) !== 0) this.close(h);
        return;
      }
      h.la = buf.length > end + length ? buf.subarray(end + length) : undefined;
      h.lb = true;
      const keepAlive = head.keepAlive;
      void this.o.send(id, buf.toString('utf8', end, end + length)).then((r) => {
        if (!this.conns.has(h)) return; // closed meanwhile: the send was routed all the same
        h.lb = false;
        h.lt = Date.now();
        if (writeRaw(h, sendAnswer(id, r, this.o.epoch, keepAlive)) !== 0) return this.close(h);
        if (!keepAlive) return this.close(h, true);
        this.serve(h);
      });
    }
  }

  private handOver(h: LeanConn): void {
    const bytes = h.la ?? Buffer.alloc(0);
    this.conns.delete(h);
    h.readStop();
    h.la = undefined;
    this.o.fallback(h, bytes);
  }

  private close(h: LeanConn, graceful = false): void {
    if (!this.conns.delete(h)) return;
    h.la = undefined;
    h.readStop();
    if (graceful && shutdownRaw(h, () => closeRaw(h)) === 0) return;
    closeRaw(h);
  }

  private sweepIdle(): void {
    const now = Date.now();
    for (const h of this.conns) {
      if (h.lb) continue;
      if (h.la !== undefined && now - h.lt > this.o.headersTimeoutMs) {
        writeRaw(h, errorResponse(408, 'request not received in time'));
        this.close(h, true);
      } else if (h.la === undefined && now - h.lt > this.o.idleTimeoutMs) {
        this.close(h); // an idle keep-alive connection: closed quietly, as node:http does
      }
    }
  }
}
