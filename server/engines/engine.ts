/**
 * A streaming engine: how a worker accepts connections, reads requests and writes comet streams. One file per way
 * (raw libuv handles, net.Socket, node:http, express); every one passes engines/engine.case.test.ts. The HTTP API
 * (send, broadcast, stats, metrics, health) is always served by express in the supervisor: lean engines hand the
 * connection over, http/express engines proxy the request.
 */
import type { WorkerCounters } from '../worker/worker-counters.ts';
import type { ToSupervisor } from '../ipc.ts';
import type { Delivery, LoggedMessage } from '../ipc.ts';

export const ENGINE_NAMES = ['raw', 'net', 'http', 'express'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface EngineOptions {
  /** Addresses to listen on, all on `port`. */
  hosts: string[];
  port: number;
  backlog: number;
  intervalMs: number;
  pollWaitMs: number;
  headersTimeoutMs: number;
  /** Connections this worker holds at most; beyond it new ones are closed at once (keeps fds for the API). */
  maxConnections: number;
  /** Bytes queued on one stream's socket beyond which the client is too slow and is dropped. */
  maxQueuedBytes: number;
  /** The supervisor's internal API socket (a Unix socket path) for engines that proxy API requests. */
  apiSocketPath: string;
  /** This server run's epoch (positions are `<epoch>-<seq>`). */
  epoch: string;
  counters: WorkerCounters;
  send(message: ToSupervisor, handle?: unknown, done?: (err: Error | null) => void): void;
  /** One line for the operator (the worker prints it, rate-limited); engines never print themselves. */
  warn(line: string): void;
}

/** What the worker's IPC loop needs from the hub, whatever the engine's stream type. */
export interface HubControl {
  deliver(batch: Delivery[]): number[];
  replayed(k: number, missed: LoggedMessage[]): void;
  /** Sends the directory notices not sent yet. */
  flushDirectory(): void;
  shutdown(): void;
  readonly size: number;
}

export interface Engine {
  readonly hub: HubControl;
  /** Starts listening on the shared port (SO_REUSEPORT). */
  listen(): Promise<void>;
  /**
   * Takes a connection the supervisor hands back (lean engines only: a keep-alive API connection whose next request
   * is a stream) with the request bytes it read.
   */
  adopt?(handle: unknown, bytes: Buffer): void;
  /** Stops accepting; open streams stay until hub.shutdown(). */
  stopAccepting(): Promise<void>;
  /** Connections this worker holds (streams, requests being read, keep-alive). */
  connections(): number;
}
