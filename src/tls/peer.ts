// Who is calling over mutual TLS: the client certificate's one URI SAN, read with the strict SPIFFE parser, held to
// the allow-list. A certificate with no URI SAN (DNS names only) or several is refused: its identity is ambiguous.
import type { PeerCertificate } from 'node:tls';
import { isSpiffeIdError, parseSpiffeId } from '../identity/spiffe.js';

export type PeerDecision = { authorized: true; spiffeId: string } | { authorized: false; reason: string };

/**
 * The URI entries of Node's subjectaltname text (`URI:spiffe://…, DNS:x`). Node writes a value that holds a comma,
 * a quote or a control character as a JSON string (`URI:"…"`), read back here as one value. Text that does not
 * follow the format yields an extra entry, which can only make a certificate fail the one-URI rule.
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined || subjectAltName === '') return [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  const uris: string[] = [];
  while (entry.lastIndex < subjectAltName.length) {
    const at = entry.lastIndex;
    const match = entry.exec(subjectAltName);
    if (match === null) {
      uris.push(subjectAltName.slice(at)); // unreadable: counted, never trusted
      break;
    }
    if (match[1] !== 'URI') continue;
    const raw = match[2]!;
    uris.push(raw.startsWith('"') ? unquote(raw) : raw);
  }
  return uris;
}

function unquote(raw: string): string {
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw; // an escape JSON does not know: kept as written, which no SPIFFE ID parse accepts
  }
}

/** Decides whether the verified client certificate may call; `allowed` undefined = any SPIFFE ID. */
export function authorizePeer(certificate: PeerCertificate | undefined | null, allowed: ReadonlySet<string> | undefined): PeerDecision {
  if (certificate === undefined || certificate === null || Object.keys(certificate).length === 0) return { authorized: false, reason: 'no client certificate' };
  const uris = uriSans(certificate.subjectaltname);
  if (uris.length === 0) return { authorized: false, reason: 'the client certificate has no URI SAN (a SPIFFE ID is required; DNS names are not identities here)' };
  if (uris.length > 1) return { authorized: false, reason: `the client certificate has ${uris.length} URI SANs (an X.509-SVID has exactly one)` };
  const parsed = parseSpiffeId(uris[0]!);
  if (isSpiffeIdError(parsed)) return { authorized: false, reason: `the client certificate's URI SAN is not a SPIFFE ID: ${parsed.message}` };
  if (allowed !== undefined && !allowed.has(parsed.id)) return { authorized: false, reason: `${parsed.id} is not an allowed caller` };
  return { authorized: true, spiffeId: parsed.id };
}
