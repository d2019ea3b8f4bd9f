// TLS for the grpc-js server: credentials fed by the TlsSource (grpc-js's certificate-provider credentials, so a
// rotated pair is used for new connections while open ones keep theirs) and, under mutual TLS, an interceptor
// that holds every call's client certificate to the SPIFFE allow-list before any handler runs.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logger.js';
import type { TlsMaterial } from '../tls/material.js';
import { authorizePeer } from '../tls/peer.js';
import type { TlsSource } from '../tls/source.js';

type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;
type CaListener = (update: { caCertificate: Buffer } | null) => void;

/** grpc-js's CertificateProvider over the TlsSource: each listener gets the pair in force, then every new one. */
function certificateProvider(tls: TlsSource): grpc.experimental.CertificateProvider {
  const identity = new Set<IdentityListener>();
  const ca = new Set<CaListener>();
  const push = (material: TlsMaterial): void => {
    for (const listener of identity) listener({ certificate: material.cert, privateKey: material.key });
    if (material.clientCa !== undefined) for (const listener of ca) listener({ caCertificate: material.clientCa });
  };
  tls.subscribe(push);
  return {
    addIdentityCertificateListener(listener: IdentityListener): void {
      identity.add(listener);
      // On the next tick, as grpc-js's own providers do: the credentials register their watcher after this call.
      process.nextTick(() => {
        if (identity.has(listener)) listener({ certificate: tls.current.cert, privateKey: tls.current.key });
      });
    },
    removeIdentityCertificateListener(listener: IdentityListener): void {
      identity.delete(listener);
    },
    addCaCertificateListener(listener: CaListener): void {
      ca.add(listener);
      process.nextTick(() => {
        const current = tls.current.clientCa;
        if (current !== undefined && ca.has(listener)) listener({ caCertificate: current });
      });
    },
    removeCaCertificateListener(listener: CaListener): void {
      ca.delete(listener);
    },
  };
}

/**
 * The server credentials for `tls`. An unauthorized caller (no URI SAN, several, not a SPIFFE ID, not allowed)
 * gets UNAUTHENTICATED on every method: it never reaches the Check path, so no decision is made or logged for it.
 */
export function serverCredentialsFor(tls: TlsSource, logger: Logger): grpc.ServerCredentials {
  const provider = certificateProvider(tls);
  const mutual = tls.requiresClientCertificate;
  // grpc-js hands its first argument to the credentials as the identity provider, its second as the CA's.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, mutual ? provider : null, mutual);
  if (!mutual) return credentials;
  const authorize: grpc.ServerInterceptor = (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        const decision = authorizePeer(call.getAuthContext().sslPeerCertificate, tls.allowedSpiffeIds);
        if (decision.authorized) {
          next();
          return;
        }
        logger.warn({ listener: 'gRPC', peer: call.getPeer(), reason: decision.reason }, 'caller refused');
        call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'the client certificate is not an allowed caller' });
      },
    });
  return grpc.experimental.createServerCredentialsWithInterceptors(credentials, [authorize]);
}
