// TLS for the grpc-js server: credentials fed by the TlsSource (grpc-js's certificate-provider credentials, so a
// rotated pair is used for new connections while open ones keep theirs) and, under mutual TLS, an interceptor
// that holds each connection's client certificate to the SPIFFE allow-list before any handler runs.
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { RefuseCheck } from '../check/answer.js';
import { CHECK_METHOD_PATH } from '../envoy/protos.js';
import type { Logger } from '../logger.js';
import type { TlsMaterial } from '../tls/material.js';
import { authorizePeer, type PeerDecision } from '../tls/peer.js';
import type { TlsSource } from '../tls/source.js';
import { resetAfterAnswer } from './call-bounds.js';

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

/** What the interceptor needs of grpc-js's HTTP/2 stream: the session (one per connection) it belongs to. */
interface StreamWithSession {
  readonly session?: object | undefined;
}

/**
 * The connection (HTTP/2 session) under a call, where grpc-js 1.14 keeps it: the base call's private `stream`
 * (as call-bounds.ts reads it). Undefined should grpc-js move it: the peer is then decided on every call.
 */
function sessionOf(call: unknown): object | undefined {
  const stream = (call as { stream?: unknown }).stream;
  if (typeof stream !== 'object' || stream === null) return undefined;
  const session = (stream as StreamWithSession).session;
  return typeof session === 'object' && session !== null ? session : undefined;
}

/**
 * Decides each connection's client certificate once. The certificate cannot change within a TLS connection and
 * the allow-list is fixed at start-up, so the first call's decision holds for every later call on it; grpc-js's
 * getAuthContext would otherwise rebuild the certificate object (and we re-read its SANs) on each call. A WeakMap
 * keyed by the session: an entry lives exactly as long as its connection, so the cache is bounded by
 * --max-connections and needs no eviction.
 */
export function createPeerDecisions(allowed: ReadonlySet<string> | undefined): (call: object, certificate: () => PeerCertificate | undefined) => PeerDecision {
  const decisions = new WeakMap<object, PeerDecision>();
  return (call, certificate) => {
    const session = sessionOf(call);
    const known = session === undefined ? undefined : decisions.get(session);
    if (known !== undefined) return known;
    const decision = authorizePeer(certificate(), allowed);
    if (session !== undefined) decisions.set(session, decision);
    return decision;
  };
}

/**
 * The server credentials for `tls`. Under mutual TLS, a caller the allow-list refuses (no URI SAN, several, not a
 * SPIFFE ID, not allowed) gets, on the Check method, the deny CheckResponse `refuseCheck` records and returns
 * (an RPC error would let traffic through under Envoy's failure_mode_allow); on health and reflection,
 * UNAUTHENTICATED. Its request is never read and no policy runs for it.
 */
export function serverCredentialsFor(tls: TlsSource, logger: Logger, refuseCheck?: RefuseCheck): grpc.ServerCredentials {
  const provider = certificateProvider(tls);
  const mutual = tls.requiresClientCertificate;
  // grpc-js hands its first argument to the credentials as the identity provider, its second as the CA's.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, mutual ? provider : null, mutual);
  if (!mutual) return credentials;
  const decide = createPeerDecisions(tls.allowedSpiffeIds);
  const authorize: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        const decision = decide(call, () => call.getAuthContext().sslPeerCertificate);
        if (decision.authorized) {
          next();
          return;
        }
        logger.warn({ listener: 'gRPC', peer: call.getPeer(), method: method.path, reason: decision.reason }, 'caller refused');
        if (method.path === CHECK_METHOD_PATH && refuseCheck !== undefined) {
          const deny = refuseCheck({ detail: decision.reason });
          call.sendMessage(deny, () => {
            call.sendStatus({ code: grpc.status.OK, details: 'OK' });
            // Its request is not wanted: a caller that goes on sending is reset rather than buffered.
            resetAfterAnswer(call);
          });
          return;
        }
        call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'the client certificate is not an allowed caller' });
        resetAfterAnswer(call);
      },
    });
  return grpc.experimental.createServerCredentialsWithInterceptors(credentials, [authorize]);
}
