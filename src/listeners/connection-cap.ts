// A listener's connection cap: net.Server.maxConnections refuses (closes) connections past it as they arrive;
// the refusals are logged once per burst, so that a flood does not flood the log too.
import type { Server } from 'node:net';
import type { Logger } from '../logger.js';

const LOG_EVERY_MS = 10_000;

export function capConnections(server: Server, maxConnections: number, listener: string, logger: Logger): void {
  server.maxConnections = maxConnections;
  let refused = 0;
  server.on('drop', () => {
    if (refused++ > 0) return;
    logger.warn({ listener, max_connections: maxConnections }, 'connection refused: the listener is at its connection cap');
    setTimeout(() => {
      if (refused > 1) logger.warn({ listener, max_connections: maxConnections, refused }, 'connections refused at the connection cap');
      refused = 0;
    }, LOG_EVERY_MS).unref();
  });
}
