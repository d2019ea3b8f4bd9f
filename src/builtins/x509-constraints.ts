// Go 1.26's checkChainConstraints (crypto/x509/constraints.go): each CA's name constraints against the SANs below it.
//
// Go sorts and prunes each constraint list and binary-searches it; a name is permitted when some constraint
// matches it and excluded when some constraint matches it, which is what is checked here directly.
import { isIP } from 'node:net';
import { fail } from './builtin.js';
import type { ParsedCertificate, Subtrees } from './x509-certificate.js';
import { domainNameValid } from './x509-certificate.js';
import { parseUrl, splitHostPort } from './go-url.js';
import { parseMailbox, type Mailbox } from './x509-values.js';

const lower = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** dnsHasSuffix: b ends with a (ASCII case-insensitive) on a label boundary, or a starts with '.'. */
function dnsHasSuffix(a: string, b: string): boolean {
  if (a.length > b.length) return false;
  if (lower(b.slice(b.length - a.length)) !== lower(a)) return false;
  if (a[0] !== '.' && b.length > a.length && b[b.length - a.length - 1] !== '.') return false;
  return true;
}

function trimFirstLabel(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/** A dnsConstraints query: an empty constraint matches all; excluded ones also catch wildcards of their parents. */
function dnsMatches(constraints: readonly string[] | null, name: string, permitted: boolean): boolean {
  if (constraints === null || constraints.length === 0) return false;
  if (constraints.includes('')) return true;
  if (constraints.some((constraint) => dnsHasSuffix(constraint, name))) return true;
  if (!permitted && name.startsWith('*')) {
    const parent = trimFirstLabel(lower(name));
    return constraints.some((constraint) => trimFirstLabel(lower(constraint)) !== '' && trimFirstLabel(lower(constraint)) === parent);
  }
  return false;
}

/** net.IP.To4: the IPv4 form of a 4-byte or IPv4-mapped 16-byte address. */
function to4(ip: Buffer): Buffer | undefined {
  if (ip.length === 4) return ip;
  if (ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.subarray(12);
  return undefined;
}

/** net.IPNet.Contains. */
function ipNetContains(range: { ip: Buffer; mask: Buffer }, target: Buffer): boolean {
  const network = to4(range.ip) ?? range.ip;
  let mask = range.mask;
  if (mask.length === 16 && network.length === 4) mask = mask.subarray(12);
  if (mask.length !== network.length) return false;
  const ip = to4(target) ?? target;
  if (ip.length !== network.length) return false;
  for (let i = 0; i < ip.length; i++) if ((network[i]! & mask[i]!) !== (ip[i]! & mask[i]!)) return false;
  return true;
}

/** ipConstraints.query: constraints of the address's own length (4 or 16 bytes) only. */
function ipMatches(ranges: ReadonlyArray<{ ip: Buffer; mask: Buffer }>, ip: Buffer): boolean {
  return ranges.filter((range) => (range.ip.length === 4) === (ip.length === 4)).some((range) => ipNetContains(range, ip));
}

function emailMatches(constraints: readonly string[] | null, mailbox: Mailbox, permitted: boolean): boolean {
  if (constraints === null || constraints.length === 0) return false;
  const exact = constraints.filter((constraint) => constraint.includes('@')).map(parseMailbox);
  if (exact.some((c) => c !== undefined && c.local === mailbox.local && lower(c.domain) === mailbox.domain)) return true;
  const domains = constraints.filter((constraint) => !constraint.includes('@'));
  return domains.length > 0 && dnsMatches(domains, mailbox.domain, permitted);
}

/** Whether a set of permitted/excluded lists is non-empty (Go builds no query for an empty list). */
const anyOf = (list: readonly unknown[] | null): boolean => list !== null && list.length > 0;

function allowed(permittedQuery: boolean, permittedFound: boolean, excludedQuery: boolean, excludedFound: boolean): boolean {
  if (permittedQuery && !permittedFound) return false;
  if (excludedQuery && excludedFound) return false;
  return true;
}

/** chainConstraints.check for one CA's constraints; false when a name breaks them or cannot be checked. */
function namesAllowed(
  constraints: { permitted: Subtrees; excluded: Subtrees },
  names: { dns: string[]; uris: string[]; emails: Mailbox[]; ips: Buffer[] },
): boolean {
  const { permitted, excluded } = constraints;
  for (const ip of names.ips) {
    const p = permitted.ipRanges.filter((range) => (range.ip.length === 4) === (ip.length === 4));
    const e = excluded.ipRanges.filter((range) => (range.ip.length === 4) === (ip.length === 4));
    // Go keeps separate IPv4 and IPv6 sets: a list with only the other family still constrains (no match).
    if (!allowed(permitted.ipRanges.length > 0, p.length > 0 && ipMatches(p, ip), excluded.ipRanges.length > 0, e.length > 0 && ipMatches(e, ip))) return false;
  }
  for (const name of names.dns) {
    if (!domainNameValid(name, false)) return false;
    if (!allowed(anyOf(permitted.dns), dnsMatches(permitted.dns, name, true), anyOf(excluded.dns), dnsMatches(excluded.dns, name, false))) return false;
  }
  for (const domain of names.uris) {
    if (!domainNameValid(domain, false)) return false;
    if (!allowed(anyOf(permitted.uris), dnsMatches(permitted.uris, domain, true), anyOf(excluded.uris), dnsMatches(excluded.uris, domain, false))) return false;
  }
  for (const mailbox of names.emails) {
    if (!domainNameValid(mailbox.domain, false)) return false;
    if (!allowed(anyOf(permitted.emails), emailMatches(permitted.emails, mailbox, true), anyOf(excluded.emails), emailMatches(excluded.emails, mailbox, false))) return false;
  }
  return true;
}

/** parseURIs: each URI's lower-cased host without port; a URI without a host, or with an IP, cannot be checked. */
function uriDomains(uris: readonly string[]): string[] | undefined {
  const domains: string[] = [];
  for (const uri of uris) {
    let host = lower(parseUrl(uri).host);
    if (host.length === 0) return undefined;
    if (host.includes(':') && !host.endsWith(']')) {
      const split = splitHostPort(host);
      host = split.hostname;
    }
    if (isIP(host) !== 0 || (host.startsWith('[') && host.endsWith(']'))) return undefined;
    domains.push(host);
  }
  return domains;
}

/**
 * Names × constraints checked for one chain at most. Go binary-searches sorted constraints; here each name is
 * compared with each constraint, so a certificate crafted with many names under many constraints is refused
 * (the builtin fails) past this bound, Go's former MaxConstraintComparisons default.
 */
const MAX_CONSTRAINT_COMPARISONS = 250_000;

function constraintCount(subtrees: Subtrees): number {
  return (subtrees.dns?.length ?? 0) + subtrees.ipRanges.length + (subtrees.emails?.length ?? 0) + (subtrees.uris?.length ?? 0);
}

/** checkChainConstraints over a chain from leaf to root: true when every SAN below a constraining CA passes. */
export function chainNamesAllowed(chain: readonly ParsedCertificate[]): boolean {
  let comparisons = 0;
  const constraining = chain.map((certificate, index) => ({ certificate, index })).filter(({ certificate }) => certificate.hasNameConstraints);
  if (constraining.length === 0) return true;
  for (let i = 0; i < chain.length; i++) {
    const certificate = chain[i]!;
    if (!certificate.subjectAltNames.present) continue;
    const above = constraining.filter(({ index }) => index > i);
    if (above.length === 0) return true;
    const uris = uriDomains(certificate.subjectAltNames.uris);
    if (uris === undefined) return false;
    const emails: Mailbox[] = [];
    for (const email of certificate.subjectAltNames.emails) {
      const mailbox = parseMailbox(email);
      if (mailbox === undefined) return false;
      emails.push({ local: mailbox.local, domain: lower(mailbox.domain) });
    }
    const names = { dns: certificate.dnsNames, uris, emails, ips: certificate.subjectAltNames.ips };
    const nameCount = names.dns.length + names.uris.length + names.emails.length + names.ips.length;
    for (const { certificate: ca } of above) {
      comparisons += nameCount * (constraintCount(ca.nameConstraints.permitted) + constraintCount(ca.nameConstraints.excluded));
      if (comparisons > MAX_CONSTRAINT_COMPARISONS) fail('x509: too many name constraint comparisons');
      if (!namesAllowed(ca.nameConstraints, names)) return false;
    }
  }
  return true;
}
