// Where a listener's connections come from when it does not bind its address itself: in a worker of
// `serve --workers N`, the primary accepts them and hands each one over (src/workers/). The listener then
// treats a handed connection exactly as one it accepted.
import type { Server } from 'node:net';

/** The listeners whose connections a primary can hand over. */
export type HandedListener = 'grpc' | 'http';

export interface ConnectionSource {
  /**
   * Delivers every connection handed over for `listener` to `server` (its 'connection' event, as an accepted
   * one), at most `maxConnections` at once (beyond it, closed as they arrive, with the server's 'drop' event),
   * until the server closes; returns the port the connections arrive on.
   */
  attach(listener: HandedListener, server: Server, maxConnections: number): number;
}
