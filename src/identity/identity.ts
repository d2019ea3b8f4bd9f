// Pure: the SPIFFE identities of the peers (input.source, input.destination), from what Envoy verified.
import { X509Certificate, createHash } from 'node:crypto';
import type { Attributes, Peer } from '../envoy/types.js';
import type { TokenVerifier } from './jwt.js';
import { BoundedCache, memoize, stringBytes } from '../bounded-cache.js';
import { isSpiffeIdError, istioIdentity, MAX_SPIFFE_ID_BYTES, parseSpiffeId, type TrustDomains } from './spiffe.js';
import { principalFromMetadata, type MetadataPath } from './metadata-principal.js';
import { identityFromXfcc } from './xfcc.js';

export type IdentitySource = 'mtls' | 'metadata' | 'xfcc' | 'jwt-svid';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  uri_sans: string[];
  dns_sans: string[];
  sha256: string;
}

/** One peer as the policy sees it (input.source / input.destination). */
export interface PeerIdentity {
  /** The raw principal Envoy sent ("" when none). */
  principal: string;
  /** The principal when it is a valid SPIFFE ID, else null. */
  spiffe_id: string | null;
  trust_domain: string | null;
  path: string | null;
  /** Only for Istio's `/ns/<ns>/sa/<sa>` shape. */
  namespace: string | null;
  service_account: string | null;
  /** The trust domain is the local one or one of its aliases. */
  local: boolean;
  /** A valid workload SPIFFE ID, from a source the server verified, in a trust domain it accepts. */
  authenticated: boolean;
  via: IdentitySource | null;
  address: string | null;
  port: number | null;
  /** The peer certificate, when Envoy sent it (include_peer_certificate) and it parsed. */
  certificate?: CertificateInfo;
}

export interface IdentityOptions {
  trustDomains: TrustDomains;
  /**
   * Opt-in (--source-principal-metadata): without an mTLS principal, the source principal an Envoy filter wrote
   * into the CheckRequest's filter_metadata at this path; before XFCC and JWT-SVIDs, which the caller sends.
   */
  metadataPrincipal?: MetadataPath | undefined;
  /** Opt-in: without an mTLS principal, take the identity from the last x-forwarded-client-cert element. */
  xfcc: boolean;
  /** Opt-in bearer-token verification (end-user JWTs, JWT-SVIDs); undefined when neither is configured. */
  tokens?: TokenVerifier | undefined;
}

export interface Identities {
  source: PeerIdentity;
  destination: PeerIdentity;
  /** Problems worth a log line (a malformed certificate or XFCC header); never shown to the caller. */
  problems: string[];
  /** Set when the metadata principal is malformed: the Check is denied (malformed_metadata_principal), not decided. */
  refusal?: string;
}

/**
 * Builds both identity blocks. Never throws: anything malformed yields an unauthenticated identity.
 * `jwtSvid` is the SPIFFE ID of a JWT-SVID the caller already verified (src/identity/jwt.ts); it counts only when
 * there is neither an mTLS principal nor (opt-in) an XFCC identity.
 */
export function buildIdentities(attributes: Attributes, options: IdentityOptions, jwtSvid?: string): Identities {
  const problems: string[] = [];
  const source = attributes.source;
  let principal = source?.principal ?? '';
  let via: IdentitySource | null = principal === '' ? null : 'mtls';
  let refusal: string | undefined;
  if (principal === '' && options.metadataPrincipal !== undefined) {
    const found = principalFromMetadata(attributes.metadataContext, options.metadataPrincipal);
    if (found.found === 'principal') {
      principal = found.principal;
      via = 'metadata';
    } else if (found.found === 'malformed') {
      refusal = found.problem;
    }
  }
  if (principal === '' && refusal === undefined && options.xfcc) {
    const header = attributes.request?.http?.headers?.['x-forwarded-client-cert'];
    if (header !== undefined) {
      const found = identityFromXfcc(header);
      if ('uri' in found) {
        principal = found.uri;
        via = 'xfcc';
      } else {
        problems.push(`x-forwarded-client-cert ignored: ${found.error}`);
      }
    }
  }
  if (principal === '' && refusal === undefined && jwtSvid !== undefined) {
    principal = jwtSvid;
    via = 'jwt-svid';
  }
  const sourceIdentity = peerIdentity(source, principal, via, options.trustDomains);
  const certificate = source?.certificate;
  if (certificate) {
    const parsed = parseCertificate(certificate);
    if ('problem' in parsed) {
      problems.push(`peer certificate ignored: ${parsed.problem}`);
      // A certificate we cannot read cannot vouch for the principal.
      sourceIdentity.authenticated = false;
    } else {
      sourceIdentity.certificate = parsed;
      // X509-SVID: exactly one URI SAN, and it is the principal Envoy reported (T-19, T-20).
      if (!(parsed.uri_sans.length === 1 && parsed.uri_sans[0] === principal)) sourceIdentity.authenticated = false;
    }
  }
  const destination = attributes.destination;
  const destinationPrincipal = destination?.principal ?? '';
  const destinationIdentity = peerIdentity(destination, destinationPrincipal, destinationPrincipal === '' ? null : 'mtls', options.trustDomains);
  const identities: Identities = { source: sourceIdentity, destination: destinationIdentity, problems };
  if (refusal !== undefined) identities.refusal = refusal;
  return identities;
}

function peerIdentity(peer: Peer | undefined, principal: string, via: IdentitySource | null, trustDomains: TrustDomains): PeerIdentity {
  const socket = peer?.address?.socketAddress;
  const identity: PeerIdentity = {
    principal,
    spiffe_id: null,
    trust_domain: null,
    path: null,
    namespace: null,
    service_account: null,
    local: false,
    authenticated: false,
    via,
    address: socket?.address ?? null,
    port: socket?.portValue ?? null,
  };
  if (principal === '') return identity;
  const id = parsePrincipal(principal);
  if (id === null) return identity;
  identity.spiffe_id = id.id;
  identity.trust_domain = id.trustDomain;
  identity.path = id.path;
  identity.namespace = id.namespace;
  identity.service_account = id.serviceAccount;
  identity.local = trustDomains.isLocal(id.trustDomain);
  // A workload ID has a path (an ID of the trust domain alone is not a workload: X509-SVID §2).
  identity.authenticated = via !== null && id.path !== '' && trustDomains.isAccepted(id.trustDomain);
  return identity;
}

/** What a principal says, when it is a valid SPIFFE ID (null otherwise). */
interface ParsedPrincipal {
  id: string;
  trustDomain: string;
  path: string;
  namespace: string | null;
  serviceAccount: string | null;
}

/** The most bytes each identity cache may hold. */
export const IDENTITY_CACHE_MAX_BYTES = 8 * 1024 * 1024;

// Every workload has one principal and calls with it again and again, so its parse is cached. Longer
// principals than a SPIFFE ID may be are rejected by the parse and never kept; the bytes bound the rest.
const principalCache = new BoundedCache<ParsedPrincipal | null>(
  { maxEntries: 4096, maxBytes: IDENTITY_CACHE_MAX_BYTES, maxKeyLength: MAX_SPIFFE_ID_BYTES },
  (principal, parsed) =>
    stringBytes(principal) +
    (parsed === null ? 0 : stringBytes(parsed.id) + stringBytes(parsed.trustDomain) + stringBytes(parsed.path) + stringBytes(parsed.namespace ?? '') + stringBytes(parsed.serviceAccount ?? '')),
);

const parsePrincipal = memoize(principalCache, (principal): ParsedPrincipal | null => {
  const id = parseSpiffeId(principal);
  if (isSpiffeIdError(id)) return null;
  const istio = istioIdentity(id);
  return { id: id.id, trustDomain: id.trustDomain, path: id.path, namespace: istio?.namespace ?? null, serviceAccount: istio?.serviceAccount ?? null };
});

// Istio sends no certificate; with plain Envoy the same few client certificates recur, so parses are cached.
// A workload certificate, URL-encoded, is a few KiB; a longer one is parsed every time and never kept.
const certificateCache = new BoundedCache<CertificateInfo | { problem: string }>(
  { maxEntries: 256, maxBytes: IDENTITY_CACHE_MAX_BYTES, maxKeyLength: 32 * 1024 },
  (encoded, parsed) => stringBytes(encoded) + stringBytes(JSON.stringify(parsed)),
);

/** The URL-encoded PEM Envoy sends in `source.certificate` → the fields a policy needs. */
export const parseCertificate: (encoded: string) => CertificateInfo | { problem: string } = memoize(certificateCache, parseCertificateUncached);

/** What the identity caches hold now (estimated bytes and entries), for tests and diagnostics. */
export function identityCacheUsage(): { principals: { bytes: number; entries: number }; certificates: { bytes: number; entries: number } } {
  return {
    principals: { bytes: principalCache.bytes, entries: principalCache.size },
    certificates: { bytes: certificateCache.bytes, entries: certificateCache.size },
  };
}

function parseCertificateUncached(encoded: string): CertificateInfo | { problem: string } {
  try {
    return readCertificate(encoded);
  } catch (error) {
    return { problem: `unreadable certificate: ${(error as Error).message}` };
  }
}

function readCertificate(encoded: string): CertificateInfo | { problem: string } {
  let pem: string;
  try {
    pem = decodeURIComponent(encoded);
  } catch {
    return { problem: 'not URL-encoded' };
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1) return { problem: blocks.length === 0 ? 'no PEM certificate' : 'more than one certificate (a chain), expected the leaf only' };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(blocks[0]!);
  } catch (error) {
    return { problem: `unreadable certificate: ${(error as Error).message}` };
  }
  const sans = splitSubjectAltName(certificate.subjectAltName ?? '');
  return {
    // Workload certificates often have an empty subject (Istio's do); Node then reports undefined.
    subject: (certificate.subject ?? '').replaceAll('\n', ', '),
    issuer: (certificate.issuer ?? '').replaceAll('\n', ', '),
    serial: certificate.serialNumber,
    not_before: new Date(certificate.validFrom).toISOString(),
    not_after: new Date(certificate.validTo).toISOString(),
    uri_sans: sans.filter((san) => san.type === 'URI').map((san) => san.value),
    dns_sans: sans.filter((san) => san.type === 'DNS').map((san) => san.value),
    sha256: createHash('sha256').update(certificate.raw).digest('hex'),
  };
}

/**
 * Node renders subjectAltName as `URI:a, DNS:b`, and writes any name that contains `,`, `"`, `\` or
 * other special characters as a JSON string (`URI:"a,b"`), so entries split without ambiguity.
 */
function splitSubjectAltName(text: string): { type: string; value: string }[] {
  const entries: { type: string; value: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon === -1) break;
    const type = text.slice(at, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      next = end + 1;
    } else {
      const comma = text.indexOf(', ', colon);
      next = comma === -1 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    entries.push({ type, value });
    at = next + 2;
  }
  return entries;
}
