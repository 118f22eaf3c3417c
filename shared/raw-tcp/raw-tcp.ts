/**
 * The lean TCP layer: libuv handles driven directly, for servers and clients that hold many idle connections.
 * See bindings.ts for why, and raw-tcp.test.ts for the behaviour every user relies on.
 */
export { loadTcpBindings, TCP, TCP_CONSTANTS, tcpBindingsAvailable, type SockAddr, type TcpHandle } from './bindings.ts';
export { bindRaw, boundPort, listenRaw, RawListenError, type RawListener, type RawListenOptions } from './listen.ts';
export { connectRaw, type OnConnect, type RawConnectOptions } from './connect.ts';
export { closeRaw, errName, type OnData, type OnEnd, queuedBytes, RawReader, shutdownRaw, writeRaw } from './stream-ops.ts';
