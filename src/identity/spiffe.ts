// Pure: SPIFFE IDs parsed to the letter of the spec (SPIFFE-ID.md §2; reference §3 S-1), matched by equality and whole segments.
import { ConfigError } from '../errors.js';

/** SP-ID §2.3: implementations must support 2048 bytes; longer IDs are rejected (product rule, S-1). */
export const MAX_SPIFFE_ID_BYTES = 2048;
/** SP-ID §2.3: a trust domain is at most 255 bytes. */
export const MAX_TRUST_DOMAIN_BYTES = 255;

const SCHEME = 'spiffe://';

/** A valid SPIFFE ID. `id` is the input, unchanged: `'spiffe://' + trustDomain + path`. */
export interface SpiffeId {
  readonly id: string;
  /** Lowercase as written; never folded, so compare with `===`. */
  readonly trustDomain: string;
  /** `''` for a trust-domain-only ID, else `'/' + segments.join('/')`. */
  readonly path: string;
  readonly segments: readonly string[];
}

export type SpiffeIdErrorCode =
  | 'empty'
  | 'too_long'
  | 'bad_scheme'
  | 'missing_trust_domain'
  | 'trust_domain_too_long'
  | 'bad_trust_domain_char'
  | 'bad_path_char'
  | 'empty_segment'
  | 'dot_segment'
  | 'trailing_slash'
  | 'percent_encoding'
  | 'query_or_fragment';

/**
 * Why a text is not a SPIFFE ID. A value, not a thrown Error: bad input is an expected outcome on the hot path.
 * `message` is for the log; it names the offending character and index but never repeats the input.
 */
export class SpiffeIdError {
  readonly code: SpiffeIdErrorCode;
  readonly message: string;
  constructor(code: SpiffeIdErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

export function isSpiffeIdError(value: SpiffeId | SpiffeIdError): value is SpiffeIdError {
  return value instanceof SpiffeIdError;
}

// Character classes by UTF-16 code unit; everything outside ASCII is rejected, so units and bytes agree on valid input.
function isTrustDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
}

function isPathChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}

const PERCENT = 0x25;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const HASH = 0x23;

function describeChar(text: string, index: number): string {
  const point = text.codePointAt(index) ?? 0;
  const hex = `U+${point.toString(16).toUpperCase().padStart(4, '0')}`;
  return point > 0x20 && point < 0x7f ? `"${String.fromCharCode(point)}" (${hex})` : hex;
}

function trustDomainCharError(text: string, index: number): SpiffeIdError {
  const c = text.charCodeAt(index);
  if (c === PERCENT) return new SpiffeIdError('percent_encoding', `percent-encoding at index ${index} is not allowed`);
  if (c === QUESTION || c === HASH) {
    return new SpiffeIdError('query_or_fragment', `a query or fragment (index ${index}) is not allowed`);
  }
  const hint =
    c >= 0x41 && c <= 0x5a
      ? ': the trust domain must be lowercase'
      : c === 0x3a
        ? ': a port is not allowed'
        : c === 0x40
          ? ': userinfo is not allowed'
          : c === 0x5b || c === 0x5d
            ? ': IP literals are not allowed'
            : '';
  return new SpiffeIdError(
    'bad_trust_domain_char',
    `character ${describeChar(text, index)} at index ${index} is not allowed in a trust domain${hint}`,
  );
}

function pathCharError(text: string, index: number): SpiffeIdError {
  const c = text.charCodeAt(index);
  if (c === PERCENT) return new SpiffeIdError('percent_encoding', `percent-encoding at index ${index} is not allowed`);
  if (c === QUESTION || c === HASH) {
    return new SpiffeIdError('query_or_fragment', `a query or fragment (index ${index}) is not allowed`);
  }
  return new SpiffeIdError(
    'bad_path_char',
    `character ${describeChar(text, index)} at index ${index} is not allowed in a path segment`,
  );
}

/**
 * Checks a trust domain name on its own (as configured, without `spiffe://`), with the same grammar as in an ID.
 * Returns undefined when it is valid.
 */
export function validateTrustDomain(name: string): SpiffeIdError | undefined {
  if (typeof name !== 'string' || name.length === 0) {
    return new SpiffeIdError('missing_trust_domain', 'the trust domain is empty');
  }
  // Checked first so that the work stays bounded whatever the caller hands over.
  if (name.length > MAX_TRUST_DOMAIN_BYTES) {
    return new SpiffeIdError('trust_domain_too_long', `the trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`);
  }
  for (let i = 0; i < name.length; i++) {
    if (!isTrustDomainChar(name.charCodeAt(i))) return trustDomainCharError(name, i);
  }
  return undefined;
}

/** Parses a SPIFFE ID strictly: no case folding, no percent-decoding, no normalisation. Never throws. */
export function parseSpiffeId(text: string): SpiffeId | SpiffeIdError {
  if (typeof text !== 'string' || text.length === 0) {
    return new SpiffeIdError('empty', 'the SPIFFE ID is empty');
  }
  // UTF-8 never takes fewer bytes than UTF-16 code units, so this rejects every over-long input in O(1).
  // Shorter inputs that are over 2048 bytes hold non-ASCII characters, which the scan below rejects.
  if (text.length > MAX_SPIFFE_ID_BYTES) {
    return new SpiffeIdError('too_long', `the SPIFFE ID is longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
  }
  if (!text.startsWith(SCHEME)) {
    return new SpiffeIdError('bad_scheme', 'the scheme is missing or invalid: it must be exactly "spiffe://"');
  }

  const length = text.length;
  let i = SCHEME.length;
  for (; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === SLASH) break;
    if (!isTrustDomainChar(c)) return trustDomainCharError(text, i);
  }
  const trustDomainLength = i - SCHEME.length;
  if (trustDomainLength === 0) return new SpiffeIdError('missing_trust_domain', 'the trust domain is missing');
  if (trustDomainLength > MAX_TRUST_DOMAIN_BYTES) {
    return new SpiffeIdError('trust_domain_too_long', `the trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`);
  }
  const trustDomain = text.slice(SCHEME.length, i);

  // Here text[i] is '/' (or i === length): each turn reads one segment after a slash.
  const segments: string[] = [];
  while (i < length) {
    const start = i + 1;
    let end = start;
    for (; end < length; end++) {
      const c = text.charCodeAt(end);
      if (c === SLASH) break;
      if (!isPathChar(c)) return pathCharError(text, end);
    }
    if (end === start) {
      return end === length
        ? new SpiffeIdError('trailing_slash', 'the path must not end with "/"')
        : new SpiffeIdError('empty_segment', `the path has an empty segment at index ${start}`);
    }
    const segment = text.slice(start, end);
    if (segment === '.' || segment === '..') {
      return new SpiffeIdError('dot_segment', `the path has a "${segment}" segment at index ${start}`);
    }
    segments.push(segment);
    i = end;
  }

  return Object.freeze({
    id: text,
    trustDomain,
    path: text.slice(SCHEME.length + trustDomainLength),
    segments: Object.freeze(segments),
  });
}

/** Istio's workload identity shape, `/ns/<namespace>/sa/<service-account>` and nothing else (istio `spiffe.ParseIdentity`). */
export interface IstioIdentity {
  namespace: string;
  serviceAccount: string;
}

/**
 * The namespace and service account of an Istio-shaped ID, or undefined for any other path.
 * Like ParseIdentity, this wants exactly five `/`-separated parts after the scheme (trust domain, ns, <ns>, sa, <sa>);
 * longer paths such as `/ns/a/sa/b/extra` are opaque IDs, not Istio identities.
 */
export function istioIdentity(id: SpiffeId): IstioIdentity | undefined {
  const segments = id.segments;
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') return undefined;
  return { namespace: segments[1] as string, serviceAccount: segments[3] as string };
}

/** Exact equality of trust domains (go-spiffe MemberOf): never a suffix or prefix match (T-10). */
export function sameTrustDomain(a: Pick<SpiffeId, 'trustDomain'>, b: Pick<SpiffeId, 'trustDomain'>): boolean {
  return a.trustDomain === b.trustDomain;
}

/**
 * True when the ID's path starts with these whole segments: `/ns/prod` is a prefix of `/ns/prod/sa/x`
 * but not of `/ns/production` (T-10). The trust domain is not looked at; pair with sameTrustDomain.
 */
export function pathHasPrefix(id: SpiffeId, prefix: readonly string[]): boolean {
  const segments = id.segments;
  if (prefix.length > segments.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (segments[i] !== prefix[i]) return false;
  }
  return true;
}

export interface TrustDomainOptions {
  /** meshConfig.trustDomain, e.g. `cluster.local`. */
  local: string;
  /** meshConfig.trustDomainAliases: treated as the local trust domain. */
  aliases?: readonly string[];
  /** Foreign trust domains whose identities are accepted but never count as local. */
  federated?: readonly string[];
}

export interface TrustDomains {
  readonly local: string;
  readonly aliases: readonly string[];
  readonly federated: readonly string[];
  /** The local trust domain or one of its aliases (exact equality). */
  isLocal(trustDomain: string): boolean;
  /** Local, an alias, or federated (exact equality). */
  isAccepted(trustDomain: string): boolean;
}

interface CheckedTrustDomains {
  problems: string[];
  local: string | undefined;
  aliases: string[];
  federated: string[];
}

/** Every entry must be a bare trust domain name (no `spiffe://`); a name both local (or alias) and federated is refused. */
function checkTrustDomains(options: TrustDomainOptions): CheckedTrustDomains {
  const problems: string[] = [];
  const check = (value: unknown, where: string): string | undefined => {
    if (typeof value !== 'string') {
      problems.push(`${where} must be a string`);
      return undefined;
    }
    const error = validateTrustDomain(value);
    if (error === undefined) return value;
    const hint = value.startsWith(SCHEME) ? ' (write the name without "spiffe://")' : '';
    problems.push(`${where} ${JSON.stringify(value.slice(0, 300))} is not a valid trust domain: ${error.message}${hint}`);
    return undefined;
  };
  const checkList = (list: unknown, where: string): string[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      problems.push(`${where} must be a list of trust domains`);
      return [];
    }
    const valid: string[] = [];
    list.forEach((value: unknown, index) => {
      const name = check(value, `${where}[${index}]`);
      if (name !== undefined) valid.push(name);
    });
    return valid;
  };

  const local = check(options.local, 'the local trust domain');
  const aliases = checkList(options.aliases, 'trust domain alias');
  const federated = checkList(options.federated, 'federated trust domain');
  const localSet = new Set<string>(aliases);
  if (local !== undefined) localSet.add(local);
  for (const name of new Set(federated)) {
    if (localSet.has(name)) problems.push(`trust domain "${name}" is both local (or an alias) and federated`);
  }
  return { problems, local, aliases, federated };
}

/** What is wrong with trust-domain settings (config.ts validates them without building the sets). */
export function trustDomainProblems(options: TrustDomainOptions): string[] {
  return checkTrustDomains(options).problems;
}

/**
 * Builds the trust-domain sets from configuration; throws ConfigError listing every bad entry at once
 * (see checkTrustDomains): the two answers to "is this ours?" must never disagree.
 */
export function createTrustDomains(options: TrustDomainOptions): TrustDomains {
  const { problems, local, aliases, federated } = checkTrustDomains(options);
  if (problems.length > 0) throw new ConfigError(problems);
  const localSet = new Set<string>(aliases);
  localSet.add(local as string);
  const acceptedSet = new Set<string>([...localSet, ...federated]);
  return Object.freeze({
    local: local as string,
    aliases: Object.freeze([...new Set(aliases)]),
    federated: Object.freeze([...new Set(federated)]),
    isLocal: (trustDomain: string) => localSet.has(trustDomain),
    isAccepted: (trustDomain: string) => acceptedSet.has(trustDomain),
  });
}
