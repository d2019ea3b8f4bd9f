// Bearer tokens, verified with jose: end-user JWTs (input.jwt) and JWT-SVIDs (the source identity without mTLS).
// Verification may fetch keys, so it is the one async stage; every wait is bounded by the call's deadline.
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Attributes, HttpRequest } from '../envoy/types.js';
import { ConfigError } from '../errors.js';
import { isSpiffeIdError, parseSpiffeId, type TrustDomains } from './spiffe.js';

/** Where an issuer's keys come from: a JWKS (or SPIFFE bundle) file read at start-up, or an https URL fetched and cached. */
export type KeySource = { file: string } | { uri: string };

/** One trusted end-user token issuer (config file `jwt-issuers`). */
export interface JwtIssuerSetting {
  issuer: string;
  keys: KeySource;
  /** The token's `aud` must include one of these. */
  audiences: string[];
}

/** JWT-SVID acceptance (config file `jwt-svid`). */
export interface JwtSvidSetting {
  /** This server's audience: a JWT-SVID's `aud` must include it. */
  audience: string;
  /** The local trust domain's (and its aliases') SPIFFE bundle (its `use: jwt-svid` keys) or a plain JWKS. */
  keys: KeySource;
  /** The bundle of each federated trust domain whose JWT-SVIDs are accepted; others have none. */
  federated?: readonly { trustDomain: string; keys: KeySource }[];
}

export const JWT_REASONS = ['expired', 'bad_signature', 'unknown_issuer', 'keys_unavailable', 'malformed', 'bad_audience', 'not_yet_valid', 'ambiguous'] as const;
export type JwtReason = (typeof JWT_REASONS)[number];

/** input.jwt */
export type JwtVerdict =
  | { valid: true; issuer: string; subject: string | null; audiences: string[]; claims: JWTPayload }
  | { valid: false; reason: JwtReason };

/** What one request's bearer token yielded. */
export interface TokenFindings {
  /** input.jwt; undefined when end-user JWTs are not configured. */
  jwt?: JwtVerdict;
  /** The verified JWT-SVID's SPIFFE ID; undefined when none was asked for or it did not verify. */
  svid?: string;
  /** Why the JWT-SVID that was asked for did not verify. */
  svidRejected?: JwtReason;
  /** Log-only notes (never token text). */
  problems: string[];
}

export interface TokenVerifier {
  /** Lowercase header name the bearer token is read from. */
  readonly header: string;
  readonly issuers: ReadonlyMap<string, { audiences: readonly string[]; keys: JWTVerifyGetKey }>;
  /** `keys` verify JWT-SVIDs of the local trust domain, `federated` those of each federated one that has a bundle. */
  readonly svid: { audience: string; keys: JWTVerifyGetKey; federated: ReadonlyMap<string, JWTVerifyGetKey> } | undefined;
  readonly trustDomains: TrustDomains;
  /**
   * Reads every key file (`jwks-file`, `bundle-file`) again, for key rotation (SIGHUP). A file that is no
   * longer usable keeps its last good keys; the problems are returned, one per such file.
   */
  reloadKeyFiles(): string[];
}

/** JWT-SVID §3 (reference S-3): asymmetric algorithms only, never `none` or HMAC. */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];
/** Without a call deadline (HTTP mode, or a client that sets none): Envoy's 200 ms default less a margin. */
export const DEFAULT_VERIFY_BUDGET_MS = 150;
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_TOKEN_LENGTH = 16 * 1024;
// JWS Compact Serialisation only: header.payload.signature, base64url (JSON serialisation is rejected, T-35).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const SVID_HEADER_PARAMETERS = new Set(['alg', 'kid', 'typ']);
// How long a JWKS fetch may run on behind the call that started it, so the next call finds the keys cached.
const FETCH_TIMEOUT_MS = 5_000;

/** The keys could not be had (fetch failed, timed out, or the document is no key set). */
class KeysUnavailable extends Error {
  constructor(cause: unknown) {
    super('keys unavailable', { cause });
    this.name = 'KeysUnavailable';
  }
}

/** An invalid token with its reason code (a value the verifier returns, not a caller's mistake). */
class TokenRejected extends Error {
  readonly reason: JwtReason;
  constructor(reason: JwtReason) {
    super(reason);
    this.name = 'TokenRejected';
    this.reason = reason;
  }
}

/** True for `http://127.0.0.1…` and `http://localhost…` (tests), and any `https:` URL. */
export function isAllowedKeyUri(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost'));
}

/**
 * The keys of a JWKS or SPIFFE bundle document that may verify JWTs. A SPIFFE bundle marks them `use: jwt-svid`
 * (its `x509-svid` entries are CA certificates, never JWT keys); jose accepts only `use: sig` or none, so the
 * marker is dropped once the key is selected.
 */
export function jwtKeysOf(document: unknown): JSONWebKeySet {
  if (typeof document !== 'object' || document === null || !Array.isArray((document as { keys?: unknown }).keys)) {
    throw new Error('not a JWKS or SPIFFE bundle (no "keys" list)');
  }
  const keys = (document as { keys: unknown[] }).keys.filter((key): key is Record<string, unknown> => typeof key === 'object' && key !== null);
  const isBundle = 'spiffe_sequence' in document || keys.some((key) => key['use'] === 'jwt-svid' || key['use'] === 'x509-svid');
  const selected = isBundle ? keys.filter((key) => key['use'] === 'jwt-svid') : keys.filter((key) => key['use'] === undefined || key['use'] === 'sig');
  return { keys: selected.map(({ use: _use, ...key }) => key) } as JSONWebKeySet;
}

/** Reads a key file; a problem text (for ConfigError) when it is not usable. */
export function readKeySetFile(path: string): JSONWebKeySet | { problem: string } {
  try {
    const keys = jwtKeysOf(JSON.parse(readFileSync(path, 'utf8')) as unknown);
    createLocalJWKSet(keys);
    if (keys.keys.length === 0) return { problem: `${path}: holds no keys usable for JWTs` };
    return keys;
  } catch (error) {
    return { problem: `${path}: not a usable JWKS or SPIFFE bundle: ${(error as Error).message}` };
  }
}

async function fetchKeySet(url: string | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status !== 200) return response;
  const keys = jwtKeysOf(await response.json());
  return new Response(JSON.stringify(keys), { status: 200, headers: { 'content-type': 'application/json' } });
}

/**
 * A key getter for jose; failures to obtain keys (not a missing kid) become KeysUnavailable. A key file's
 * getter comes with `reload`, which reads the file again (a problem text when it is not usable: the keys
 * in use stay); a JWKS URL is fetched again by jose when its cache ages or a kid is unknown.
 */
function keyGetterOf(source: KeySource): { getKey: JWTVerifyGetKey; reload?: () => string | undefined } {
  let inner: JWTVerifyGetKey;
  let reload: (() => string | undefined) | undefined;
  if ('file' in source) {
    const keys = readKeySetFile(source.file);
    if ('problem' in keys) throw new Error(keys.problem);
    inner = createLocalJWKSet(keys);
    reload = () => {
      const fresh = readKeySetFile(source.file);
      if ('problem' in fresh) return fresh.problem;
      inner = createLocalJWKSet(fresh);
      return undefined;
    };
  } else {
    inner = createRemoteJWKSet(new URL(source.uri), { timeoutDuration: FETCH_TIMEOUT_MS, [customFetch]: fetchKeySet });
  }
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await inner(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) throw error;
      throw new KeysUnavailable(error);
    }
  };
  return reload === undefined ? { getKey } : { getKey, reload };
}

/**
 * Builds the verifier from validated settings, reading each key file once; undefined when neither feature is
 * configured. Throws ConfigError naming every key file that cannot be used, with the setting that names it.
 */
export function createTokenVerifier(
  settings: { jwtIssuers?: readonly JwtIssuerSetting[] | undefined; jwtSvid?: JwtSvidSetting | undefined },
  trustDomains: TrustDomains,
): TokenVerifier | undefined {
  const issuers = settings.jwtIssuers ?? [];
  if (issuers.length === 0 && settings.jwtSvid === undefined) return undefined;
  const reloads: (() => string | undefined)[] = [];
  const problems: string[] = [];
  const keysOf = (source: KeySource, setting: string): JWTVerifyGetKey => {
    try {
      const { getKey, reload } = keyGetterOf(source);
      if (reload !== undefined) reloads.push(reload);
      return getKey;
    } catch (error) {
      problems.push(`${setting}: ${(error as Error).message}`);
      return () => Promise.reject(new KeysUnavailable(error));
    }
  };
  const svid = settings.jwtSvid;
  const verifier: TokenVerifier = Object.freeze({
    header: 'authorization',
    issuers: new Map(issuers.map((setting) => [setting.issuer, { audiences: [...setting.audiences], keys: keysOf(setting.keys, `jwt-issuers: ${setting.issuer}`) }])),
    svid: svid && {
      audience: svid.audience,
      keys: keysOf(svid.keys, 'jwt-svid'),
      federated: new Map((svid.federated ?? []).map(({ trustDomain, keys }) => [trustDomain, keysOf(keys, `jwt-svid: federated-bundles: ${trustDomain}`)])),
    },
    trustDomains,
    reloadKeyFiles: (): string[] => reloads.map((reload) => reload()).filter((problem): problem is string => problem !== undefined),
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return verifier;
}

export type BearerToken = { token: string } | { reason: 'ambiguous' | 'malformed' };

/**
 * The bearer token of a request, looked up case-insensitively in `headers` and in `header_map`. Two values
 * (Envoy joins repeated headers with `,`; raw header maps keep them apart) are ambiguous: never first or last wins (T-14).
 * undefined when no bearer credential was sent.
 */
export function findBearerToken(http: HttpRequest | undefined, header: string): BearerToken | undefined {
  const values: string[] = [];
  for (const [key, value] of Object.entries(http?.headers ?? {})) if (key.toLowerCase() === header) values.push(value);
  const raw = (http?.headerMap as { headers?: { key?: string; value?: string; rawValue?: string }[] } | undefined)?.headers;
  for (const entry of Array.isArray(raw) ? raw : []) {
    if (entry?.key?.toLowerCase() !== header) continue;
    values.push(entry.value || (entry.rawValue ? Buffer.from(entry.rawValue, 'base64').toString('latin1') : ''));
  }
  if (values.length === 0) return undefined;
  const bearers = values.flatMap((value) => value.split(',')).filter((part) => /^\s*bearer(\s|$)/i.test(part));
  if (bearers.length === 0) return undefined;
  if (values.length > 1 || bearers.length > 1 || values[0]!.includes(',')) return { reason: 'ambiguous' };
  const match = /^\s*bearer +([^\s]+)\s*$/i.exec(bearers[0]!);
  return match ? { token: match[1]! } : { reason: 'malformed' };
}

/**
 * Starts the token work a request needs, or returns undefined when it needs none (the synchronous fast path):
 * no token, or nothing configured that the token could serve. The promise never rejects for a bad token; a
 * rejection is an internal error (the caller turns it into a deny).
 */
export function verifyRequestTokens(attributes: Attributes, verifier: TokenVerifier | undefined, budgetMs: number): Promise<TokenFindings> | undefined {
  if (verifier === undefined) return undefined;
  const wantsJwt = verifier.issuers.size > 0;
  const wantsSvid = verifier.svid !== undefined && !attributes.source?.principal;
  if (!wantsJwt && !wantsSvid) return undefined;
  const bearer = findBearerToken(attributes.request?.http, verifier.header);
  if (bearer === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, budgetMs));
    timer.unref();
  });
  const bounded = <T>(work: Promise<T>, late: T): Promise<T> => Promise.race([work, deadline.then(() => late)]);
  const jwt = wantsJwt ? bounded(verifyEndUserJwt(bearer, verifier).catch(rejectionToVerdict), { valid: false, reason: 'keys_unavailable' } as JwtVerdict) : undefined;
  const svid = wantsSvid ? bounded(verifyJwtSvid(bearer, verifier).then((id) => ({ id }), rejectionToReason), { reason: 'keys_unavailable' as JwtReason }) : undefined;
  return Promise.all([jwt, svid]).then(
    ([jwtVerdict, svidResult]) => {
      clearTimeout(timer);
      const findings: TokenFindings = { problems: [] };
      if (jwtVerdict !== undefined) findings.jwt = jwtVerdict;
      if (svidResult !== undefined) {
        if ('id' in svidResult) findings.svid = svidResult.id;
        else {
          findings.svidRejected = svidResult.reason;
          findings.problems.push(`JWT-SVID ignored: ${svidResult.reason}`);
        }
      }
      return findings;
    },
    (error: unknown) => {
      clearTimeout(timer);
      throw error;
    },
  );
}

function rejectionToVerdict(error: unknown): JwtVerdict {
  return { valid: false, reason: reasonOf(error) };
}

function rejectionToReason(error: unknown): { reason: JwtReason } {
  return { reason: reasonOf(error) };
}

/** jose's error classes → our reason codes; anything else is a bug and is rethrown (a deny with internal_error). */
function reasonOf(error: unknown): JwtReason {
  if (error instanceof TokenRejected) return error.reason;
  if (error instanceof KeysUnavailable) return 'keys_unavailable';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') return 'not_yet_valid';
    if (error.claim === 'aud') return 'bad_audience';
    if (error.claim === 'iss') return 'unknown_issuer';
    return 'malformed';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JOSEAlgNotAllowed) {
    return 'bad_signature';
  }
  if (error instanceof errors.JOSEError) return 'malformed';
  throw error;
}

/** Compact form, a known algorithm and a `kid`: checked before any key is looked up. */
function checkedHeader(bearer: BearerToken): { token: string; header: Record<string, unknown> } {
  if ('reason' in bearer) throw new TokenRejected(bearer.reason);
  const { token } = bearer;
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new TokenRejected('malformed');
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new TokenRejected('malformed');
  }
  if (typeof header['alg'] !== 'string' || !ALLOWED_ALGORITHMS.includes(header['alg'])) throw new TokenRejected('bad_signature');
  if (typeof header['kid'] !== 'string' || header['kid'] === '') throw new TokenRejected('malformed');
  return { token, header };
}

async function verifyEndUserJwt(bearer: BearerToken, verifier: TokenVerifier): Promise<JwtVerdict> {
  const { token } = checkedHeader(bearer);
  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    throw new TokenRejected('malformed');
  }
  const trusted = typeof issuer === 'string' ? verifier.issuers.get(issuer) : undefined;
  if (trusted === undefined) throw new TokenRejected('unknown_issuer');
  const { payload } = await jwtVerify(token, trusted.keys, {
    issuer: issuer as string,
    audience: [...trusted.audiences],
    algorithms: ALLOWED_ALGORITHMS,
    requiredClaims: ['exp'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  });
  return {
    valid: true,
    issuer: issuer as string,
    subject: typeof payload.sub === 'string' ? payload.sub : null,
    audiences: typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [],
    claims: payload,
  };
}

/** JWT-SVID (reference S-3, T-35): its `sub`, a workload SPIFFE ID in an accepted trust domain. */
async function verifyJwtSvid(bearer: BearerToken, verifier: TokenVerifier): Promise<string> {
  const svid = verifier.svid!;
  const { token, header } = checkedHeader(bearer);
  if (Object.keys(header).some((name) => !SVID_HEADER_PARAMETERS.has(name))) throw new TokenRejected('malformed');
  if (header['typ'] !== undefined && header['typ'] !== 'JWT' && header['typ'] !== 'JOSE') throw new TokenRejected('malformed');
  // A trust domain's keys vouch only for its own IDs (go-spiffe picks the bundle by the sub's trust domain):
  // the sub, read before the signature is checked, chooses the keys; jwtVerify then checks the very same sub.
  let claimed: unknown;
  try {
    claimed = decodeJwt(token).sub;
  } catch {
    throw new TokenRejected('malformed');
  }
  const id = typeof claimed === 'string' ? parseSpiffeId(claimed) : undefined;
  if (id === undefined || isSpiffeIdError(id) || id.path === '' || !verifier.trustDomains.isAccepted(id.trustDomain)) throw new TokenRejected('malformed');
  const keys = verifier.trustDomains.isLocal(id.trustDomain) ? svid.keys : svid.federated.get(id.trustDomain);
  if (keys === undefined) throw new TokenRejected('unknown_issuer');
  const { payload } = await jwtVerify(token, keys, {
    audience: svid.audience,
    algorithms: ALLOWED_ALGORITHMS,
    requiredClaims: ['exp', 'aud', 'sub'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  });
  if (payload.sub !== claimed) throw new TokenRejected('malformed');
  return id.id;
}
