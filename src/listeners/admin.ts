// The admin HTTP endpoint on its own port: /healthz (alive), /readyz (policy loaded, not draining), /metrics,
// and /debug/memory (the process's memory figures; after a full GC when node runs with --expose-gc).
import type { Server } from 'node:http';
import type { TlsSource } from '../tls/source.js';
import { createListenerServer } from './http-server.js';
import { formatAddress, type Address } from './address.js';
import { listen } from './address.js';
import { capConnections } from './connection-cap.js';
import type { Logger } from '../logger.js';
import type { MetricsExposition } from '../metrics.js';

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface AdminOptions {
  address: Address;
  metrics: MetricsExposition;
  /** True while a policy is loaded and the server is not draining. */
  ready(): boolean;
  logger: Logger;
  /** TLS (and mutual TLS) from --tls-*: only the allowed callers (a monitoring identity among them) scrape. */
  tls?: TlsSource | undefined;
}

// Probes and scrapes send small requests on a schedule: tight fixed bounds leave a slow or stalled client
// nothing to hold on to.
const ADMIN_LIMITS = {
  headersTimeout: 10_000,
  requestTimeout: 10_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
  maxConnections: 64,
};

export async function startAdminServer(options: AdminOptions): Promise<AdminServer> {
  const { maxConnections, ...timeouts } = ADMIN_LIMITS;
  const server: Server = createListenerServer(timeouts, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/healthz':
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = options.ready();
        response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
        return;
      }
      case '/debug/memory': {
        // A debugging hook: with node --expose-gc, a full collection first, so the figures show what is
        // still referenced rather than what the collector has not got round to yet.
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        const usage = process.memoryUsage();
        response.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ gc: gc !== undefined, ...usage })}\n`);
        return;
      }
      case '/metrics':
        options.metrics.registry.metrics().then(
          (text) => response.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text),
          (error: unknown) => {
            options.logger.error({ error: String(error) }, 'metrics rendering failed');
            response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
          },
        );
        return;
      default:
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }, options.tls, options.logger, 'admin');
  capConnections(server, maxConnections, 'admin', options.logger);
  const port = await listen(server, options.address, 'the admin endpoint');
  options.logger.info({ address: formatAddress({ ...options.address, port }) }, 'admin endpoint listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
