// The node:http server of the HTTP listeners (HTTP ext_authz, admin): plain, or TLS from the TlsSource with its
// rotation (new connections get the new pair) and, under mutual TLS, each connection's SPIFFE ID held to the
// allow-list as soon as the handshake is done (an unauthorized caller's socket is closed before any request).
import { createServer as createPlainServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../logger.js';
import { authorizePeer } from '../tls/peer.js';
import type { TlsSource } from '../tls/source.js';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** `options` are node:http's (timeouts); `purpose` names the listener in the log lines about refused callers. */
export function createListenerServer(options: ServerOptions, handler: RequestHandler, tls: TlsSource | undefined, logger: Logger, purpose: string): Server {
  if (tls === undefined) return createPlainServer(options, handler);
  const material = tls.current;
  const mutual = tls.requiresClientCertificate;
  const server = createTlsServer(
    {
      ...options,
      cert: material.cert,
      key: material.key,
      ...(material.clientCa === undefined ? {} : { ca: material.clientCa }),
      requestCert: mutual,
      rejectUnauthorized: mutual,
      minVersion: 'TLSv1.2',
    },
    handler,
  );
  const unsubscribe = tls.subscribe((next) => server.setSecureContext({ cert: next.cert, key: next.key, ...(next.clientCa === undefined ? {} : { ca: next.clientCa }) }));
  server.on('close', unsubscribe);
  if (mutual) {
    server.on('secureConnection', (socket: TLSSocket) => {
      const decision = authorizePeer(socket.getPeerCertificate(), tls.allowedSpiffeIds);
      if (decision.authorized) return;
      logger.warn({ listener: purpose, peer: socket.remoteAddress, reason: decision.reason }, 'caller refused');
      socket.destroy();
    });
  }
  // A failed handshake (no or an untrusted client certificate, a plaintext client) is the caller's problem.
  server.on('tlsClientError', (error, socket) => {
    logger.debug({ listener: purpose, peer: socket.remoteAddress, error: error.message }, 'TLS handshake failed');
  });
  // node:https's Server is a node:http Server for everything the listeners use (listen, close, address).
  return server as unknown as Server;
}
