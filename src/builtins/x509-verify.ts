// Go's x509.Certificate.Verify for the pools OPA builds: the first certificate is the only root, the last the leaf.
//
// Ported from crypto/x509/verify.go (Go 1.26): chain building in Go's candidate order (roots first, then
// intermediates; matching key ids first), CheckSignatureFrom, isValid (critical extensions, validity, CA and
// path length), VerifyHostname, policiesValid (x509-policies.ts), checkChainForKeyUsage and the name
// constraints (x509-constraints.ts), so the chain returned is the one Go returns first.
import { createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import type { ParsedCertificate } from './x509-certificate.js';
import { chainNamesAllowed } from './x509-constraints.js';
import { policiesValid } from './x509-policies.js';
import { formatIp } from './ip-text.js';

export interface VerifyOptions {
  /** Verify the leaf for this host name or IP (empty: no check). */
  readonly dnsName: string;
  /** The time to check validity at, in nanoseconds since the epoch. */
  readonly currentTimeNs: bigint;
  /** x509.ExtKeyUsage values the chain must allow; empty means ServerAuth, as in Go. */
  readonly keyUsages: readonly number[];
}

const EXT_KEY_USAGE_ANY = 0;
const EXT_KEY_USAGE_SERVER_AUTH = 1;
const KEY_USAGE_CERT_SIGN = 1 << 5;
const MAX_CHAIN_SIGNATURE_CHECKS = 100;

type CertificateRole = 'leaf' | 'intermediate' | 'root';

/** An x509.CertPool: certificates by subject, in the order added, each once. */
class CertificatePool {
  private readonly byName = new Map<string, ParsedCertificate[]>();
  private readonly seen = new Set<string>();

  add(certificate: ParsedCertificate): void {
    const key = certificate.raw.toString('base64');
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const name = certificate.rawSubject.toString('base64');
    const list = this.byName.get(name) ?? [];
    list.push(certificate);
    this.byName.set(name, list);
  }

  contains(certificate: ParsedCertificate): boolean {
    return this.seen.has(certificate.raw.toString('base64'));
  }

  /** findPotentialParents: matching key ids first, then one key id missing, then mismatched. */
  potentialParents(child: ParsedCertificate): ParsedCertificate[] {
    const matching: ParsedCertificate[] = [];
    const oneMissing: ParsedCertificate[] = [];
    const mismatched: ParsedCertificate[] = [];
    for (const candidate of this.byName.get(child.rawIssuer.toString('base64')) ?? []) {
      const skid = candidate.subjectKeyId ?? Buffer.alloc(0);
      const akid = child.authorityKeyId ?? Buffer.alloc(0);
      if (skid.equals(akid)) matching.push(candidate);
      else if ((skid.length === 0 && akid.length > 0) || (skid.length > 0 && akid.length === 0)) oneMissing.push(candidate);
      else mismatched.push(candidate);
    }
    return [...matching, ...oneMissing, ...mismatched];
  }
}

/** OPA's verifyX509CertificateChain: the first chain Go's Verify finds, or undefined when it finds none. */
export function verifyCertificateChain(certificates: ParsedCertificate[], options: VerifyOptions): ParsedCertificate[] | undefined {
  if (certificates.length < 2) return undefined;
  const roots = new CertificatePool();
  roots.add(certificates[0]!);
  const intermediates = new CertificatePool();
  for (const certificate of certificates.slice(1, -1)) intermediates.add(certificate);
  const leaf = certificates[certificates.length - 1]!;

  if (!isValid(leaf, 'leaf', [], options)) return undefined;
  if (options.dnsName.length > 0 && !verifyHostname(leaf, options.dnsName)) return undefined;

  const candidates = roots.contains(leaf) ? [[leaf]] : buildChains(leaf, [leaf], { count: 0, limitReached: false }, roots, intermediates, options);
  const anyKeyUsage = options.keyUsages.includes(EXT_KEY_USAGE_ANY);
  const keyUsages = options.keyUsages.length === 0 ? [EXT_KEY_USAGE_SERVER_AUTH] : options.keyUsages;
  const valid = candidates.filter((chain) => {
    if (!policiesValid(chain)) return false;
    if (!anyKeyUsage && !chainAllowsKeyUsages(chain, keyUsages)) return false;
    return chainNamesAllowed(chain);
  });
  return valid[0];
}

function buildChains(
  certificate: ParsedCertificate,
  current: ParsedCertificate[],
  signatureChecks: { count: number; limitReached: boolean },
  roots: CertificatePool,
  intermediates: CertificatePool,
  options: VerifyOptions,
): ParsedCertificate[][] {
  const chains: ParsedCertificate[][] = [];
  for (const [role, pool] of [['root', roots], ['intermediate', intermediates]] as const) {
    for (const candidate of pool.potentialParents(certificate)) {
      signatureChecks.count++;
      if (signatureChecks.count > MAX_CHAIN_SIGNATURE_CHECKS) {
        signatureChecks.limitReached = true;
        return chains;
      }
      if (candidate.publicKeyAlgorithm === 0 || alreadyInChain(candidate, current)) continue;
      if (!checkSignatureFrom(certificate, candidate)) continue;
      if (!isValid(candidate, role, current, options)) continue;
      if (role === 'root') {
        chains.push([...current, candidate]);
      } else {
        chains.push(...buildChains(candidate, [...current, candidate], signatureChecks, roots, intermediates, options));
        if (signatureChecks.limitReached) return chains;
      }
    }
  }
  return chains;
}

function subjectAltNameOf(certificate: ParsedCertificate): string | undefined {
  const extensions = (certificate.json.Extensions ?? []) as Array<{ Id: number[]; Value: string }>;
  return extensions.find((extension) => extension.Id.join('.') === '2.5.29.17')?.Value;
}

/** alreadyInChain: the same subject, key and SANs as a certificate already in the chain. */
function alreadyInChain(candidate: ParsedCertificate, chain: ParsedCertificate[]): boolean {
  const candidateSan = subjectAltNameOf(candidate);
  for (const certificate of chain) {
    if (!candidate.rawSubject.equals(certificate.rawSubject) || !candidate.rawSpki.equals(certificate.rawSpki)) continue;
    const san = subjectAltNameOf(certificate);
    if (candidateSan === undefined && san === undefined) return true;
    if (candidateSan === undefined || san === undefined) return false;
    if (candidateSan === san) return true;
  }
  return false;
}

function isValid(certificate: ParsedCertificate, role: CertificateRole, chain: ParsedCertificate[], options: VerifyOptions): boolean {
  if (certificate.unhandledCriticalExtensions.length > 0) return false;
  if (chain.length > 0 && !chain[chain.length - 1]!.rawIssuer.equals(certificate.rawSubject)) return false;
  const now = options.currentTimeNs;
  if (now < nanoseconds(certificate.notBefore) || now > nanoseconds(certificate.notAfter)) return false;
  if (role === 'intermediate' && (!certificate.basicConstraintsValid || !certificate.isCA)) return false;
  if (certificate.basicConstraintsValid && certificate.maxPathLen >= 0 && chain.length - 1 > certificate.maxPathLen) return false;
  return true;
}

const nanoseconds = (time: Date): bigint => BigInt(time.getTime()) * 1_000_000n;

// Hash and key algorithm per x509.SignatureAlgorithm; SHA-1 and MD5 are refused as insecure, DSA as unsupported.
const SIGNATURE_CHECKS: Readonly<Record<number, { hash: string | null; key: number; pss?: boolean }>> = {
  4: { hash: 'sha256', key: 1 },
  5: { hash: 'sha384', key: 1 },
  6: { hash: 'sha512', key: 1 },
  10: { hash: 'sha256', key: 3 },
  11: { hash: 'sha384', key: 3 },
  12: { hash: 'sha512', key: 3 },
  13: { hash: 'sha256', key: 1, pss: true },
  14: { hash: 'sha384', key: 1, pss: true },
  15: { hash: 'sha512', key: 1, pss: true },
  16: { hash: null, key: 4 },
};

const publicKeys = new WeakMap<ParsedCertificate, KeyObject>();

/** CheckSignatureFrom: the parent may sign certificates, and its key verifies the child's signature. */
function checkSignatureFrom(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  const version = parent.json.Version as number;
  if ((version === 3 && !parent.basicConstraintsValid) || (parent.basicConstraintsValid && !parent.isCA)) return false;
  if (parent.keyUsage !== 0 && (parent.keyUsage & KEY_USAGE_CERT_SIGN) === 0) return false;
  const check = SIGNATURE_CHECKS[child.signatureAlgorithm];
  if (check === undefined || check.key !== parent.publicKeyAlgorithm) return false;
  if (check.key === 1) {
    // Go refuses RSA keys below 1024 bits (rsa1024min) when verifying.
    const modulus = (parent.json.PublicKey as { N: bigint }).N;
    if (modulus.toString(2).length < 1024) return false;
  }
  let key = publicKeys.get(parent);
  try {
    key ??= createPublicKey({ key: parent.rawSpki, format: 'der', type: 'spki' });
    publicKeys.set(parent, key);
    const keyInput = check.pss === true ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : key;
    return verify(check.hash, child.rawTbs, keyInput, child.signature);
  } catch {
    return false;
  }
}

/** checkChainForKeyUsage: every certificate that lists usages (and not anyExtendedKeyUsage) keeps one requested. */
function chainAllowsKeyUsages(chain: ParsedCertificate[], requested: readonly number[]): boolean {
  const usages = [...requested];
  let remaining = usages.length;
  for (let i = chain.length - 1; i >= 0; i--) {
    const certificate = chain[i]!;
    if (certificate.extKeyUsage.length === 0 && certificate.unknownExtKeyUsage.length === 0) continue;
    if (certificate.extKeyUsage.includes(EXT_KEY_USAGE_ANY)) continue;
    for (let j = 0; j < usages.length; j++) {
      if (usages[j] === -1) continue;
      if (certificate.extKeyUsage.includes(usages[j]!)) continue;
      usages[j] = -1;
      remaining--;
      if (remaining === 0) return false;
    }
  }
  return true;
}

/** net.ParseIP then IP.String, or undefined when the text is not an IP address. */
function canonicalIp(text: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.');
    // Go's ParseIP rejects leading zeros and values above 255.
    if (parts.some((part) => Number(part) > 255 || (part.length > 1 && part.startsWith('0')))) return undefined;
    return formatIp(Buffer.from(parts.map(Number)));
  }
  if (!text.includes(':') || text.includes('%')) return undefined;
  try {
    const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    const groups = expandIpv6(host);
    return groups === undefined ? undefined : formatIp(groups);
  } catch {
    return undefined;
  }
}

function expandIpv6(text: string): Buffer | undefined {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const first = parse(head);
  const last = parse(tail);
  const zeros = tail === undefined ? 0 : 8 - first.length - last.length;
  const groups = [...first, ...new Array<number>(zeros).fill(0), ...last];
  if (groups.length !== 8 || groups.some((group) => Number.isNaN(group))) return undefined;
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

const lowerAscii = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** validHostname: labels of letters, digits, '-' (not first), '_'; a pattern may start with '*'. */
function validHostname(host: string, isPattern: boolean): boolean {
  const name = isPattern ? host : host.replace(/\.$/, '');
  if (name.length === 0 || name === '*') return false;
  return name.split('.').every((part, i) => {
    if (part === '') return false;
    if (isPattern && i === 0 && part === '*') return true;
    return [...part].every((c, j) => /[a-zA-Z0-9_]/.test(c) || (c === '-' && j !== 0));
  });
}

/** Certificate.VerifyHostname. */
function verifyHostname(certificate: ParsedCertificate, host: string): boolean {
  const candidateIp = host.length >= 3 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const ip = canonicalIp(candidateIp);
  if (ip !== undefined) {
    return ((certificate.json.IPAddresses ?? []) as string[]).some((address) => canonicalIp(address) === ip);
  }
  const candidate = lowerAscii(host);
  const validCandidate = validHostname(candidate, false);
  const hostParts = lowerAscii(candidate.replace(/\.$/, '')).split('.');
  return certificate.dnsNames.some((match) => {
    if (validCandidate && validHostname(match, true)) {
      const patternParts = lowerAscii(match).split('.');
      if (match.length === 0 || patternParts.length !== hostParts.length) return false;
      return patternParts.every((part, i) => (i === 0 && part === '*') || part === hostParts[i]);
    }
    if (match === '' || match === '.' || candidate === '' || candidate === '.') return false;
    return lowerAscii(match) === candidate;
  });
}
