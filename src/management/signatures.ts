// A bundle's .signatures.json verified as OPA verifies it (v1/bundle/verify.go): one JWS, checked with the
// configured key and algorithm; its payload's scope must match; every file of the bundle, but the excluded
// ones, must be listed with the right hash, and every listed file must be there.
import { createHash, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { parse as parseYaml } from 'yaml';
import { ConfigError, describeError } from '../errors.js';
import type { KeySetting, SigningSetting } from './config-file.js';

const SIGNATURES_FILE = '/.signatures.json';

/** OPA's hashing algorithm names → node's. */
const HASHES: Readonly<Record<string, string>> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};

interface SignedFile {
  name: string;
  hash: string;
  algorithm: string;
}

/** Throws a ConfigError naming the bundle and what failed when the bundle's files are not the ones signed. */
export async function verifyBundleSignatures(name: string, files: ReadonlyMap<string, Buffer>, signing: SigningSetting): Promise<void> {
  const fail = (problem: string): never => {
    throw new ConfigError([`${name}: bundle signature verification failed: ${problem}`]);
  };
  const signaturesText = files.get(SIGNATURES_FILE);
  // OPA accepts an unsigned bundle when no keyid is set; meshwarden, configured to verify, never does.
  if (signaturesText === undefined) return fail('the bundle has no .signatures.json, and signing is configured');
  let signatures: unknown;
  try {
    signatures = (JSON.parse(signaturesText.toString('utf8')) as { signatures?: unknown }).signatures;
  } catch (error) {
    return fail(`.signatures.json is not JSON: ${describeError(error)}`);
  }
  if (!Array.isArray(signatures) || signatures.length !== 1 || typeof signatures[0] !== 'string') {
    return fail('.signatures.json must hold exactly one JWT in "signatures"');
  }
  const token = signatures[0];
  let header: { kid?: unknown };
  let claimedKeyId: unknown;
  try {
    header = decodeProtectedHeader(token);
    claimedKeyId = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { keyid?: unknown }).keyid;
  } catch (error) {
    return fail(`the JWT cannot be decoded: ${describeError(error)}`);
  }
  // As OPA: the configured keyid first, then the JWT's kid, then the payload's deprecated keyid.
  const keyId = signing.keyId ?? (typeof header.kid === 'string' ? header.kid : undefined) ?? (typeof claimedKeyId === 'string' ? claimedKeyId : undefined);
  if (keyId === undefined) return fail('verification key ID is empty');
  const key = signing.keys.get(keyId);
  if (key === undefined) return fail(`verification key corresponding to ID ${keyId} not found`);
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(token, importKey(key), { algorithms: [key.algorithm] }));
  } catch (error) {
    return fail(`the JWT signature does not verify with key ${keyId}: ${describeError(error)}`);
  }
  let payload: { files?: unknown; scope?: unknown };
  try {
    payload = JSON.parse(Buffer.from(payloadBytes).toString('utf8')) as typeof payload;
  } catch (error) {
    return fail(`the JWT payload is not JSON: ${describeError(error)}`);
  }
  const scope = signing.scope ?? key.scope ?? '';
  if ((typeof payload.scope === 'string' ? payload.scope : '') !== scope) return fail('scope mismatch');
  if (!Array.isArray(payload.files)) return fail('the JWT payload lists no files');
  const signed = new Map<string, SignedFile>();
  for (const file of payload.files as unknown[]) {
    const entry = file as Partial<SignedFile>;
    if (typeof entry?.name !== 'string' || typeof entry.hash !== 'string') return fail('the JWT payload lists a file without a name and a hash');
    signed.set(entry.name, { name: entry.name, hash: entry.hash, algorithm: typeof entry.algorithm === 'string' ? entry.algorithm : '' });
  }
  for (const [path, content] of files) {
    if (path === SIGNATURES_FILE) continue;
    const relative = path.slice(1);
    if (signing.excludeFiles.some((pattern) => matchesPattern(pattern, relative))) {
      signed.delete(relative);
      continue;
    }
    const entry = signed.get(relative);
    if (entry === undefined) return fail(`file ${relative} not included in bundle signature`);
    const hash = HASHES[entry.algorithm];
    if (hash === undefined) return fail(`${relative}: ${entry.algorithm === '' ? 'no hashing algorithm provided' : `unsupported hashing algorithm ${entry.algorithm}`}`);
    let digest: string;
    try {
      digest = digestOf(relative, content, hash);
    } catch (error) {
      return fail(`${relative}: ${describeError(error)}`);
    }
    if (digest !== entry.hash.toLowerCase()) return fail(`${relative}: digest mismatch (want: ${entry.hash}, got: ${digest})`);
    signed.delete(relative);
  }
  if (signed.size > 0) return fail(`file(s) ${[...signed.keys()].join(', ')} specified in bundle signatures but not found in the target bundle`);
}

/** A PEM public key or certificate for the asymmetric algorithms; the key text itself as the HMAC secret. */
function importKey(key: KeySetting): KeyObject {
  if (key.algorithm.startsWith('HS')) return createSecretKey(Buffer.from(key.key, 'utf8'));
  return createPublicKey(key.key);
}

/**
 * The hash OPA signs: the raw bytes of a file, except for the structured documents (data.json, data.yaml,
 * .manifest), which are hashed as their JSON value with every object's keys sorted, so whitespace and key
 * order do not matter.
 */
function digestOf(path: string, content: Buffer, algorithm: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const hasher = createHash(algorithm);
  if (base === 'data.json' || base === '.manifest') hasher.update(canonicalJson(JSON.parse(content.toString('utf8'))));
  else if (base === 'data.yaml') hasher.update(canonicalJson(parseYaml(content.toString('utf8'))));
  else hasher.update(content);
  return hasher.digest('hex');
}

/** Go's encoding/json output (SetEscapeHTML(false)) of the value with sorted keys, as OPA's hasher writes it. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((key) => `${encodeString(key)}:${canonicalJson(object[key])}`)
      .join(',')}}`;
  }
  if (typeof value === 'string') return encodeString(value);
  return JSON.stringify(value) ?? 'null';
}

/** JSON.stringify escapes as Go does, but for U+2028 and U+2029, which Go writes as \u2028 and \u2029. */
function encodeString(text: string): string {
  return JSON.stringify(text).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Go's filepath.Match for the patterns of exclude_files: `*` and `?` within a path segment, `[...]` classes. */
export function matchesPattern(pattern: string, path: string): boolean {
  let expression = '^';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '*') expression += '[^/]*';
    else if (char === '?') expression += '[^/]';
    else if (char === '[') {
      const end = pattern.indexOf(']', index + 1);
      if (end === -1) return false; // Go reports ErrBadPattern; OPA treats that as no match
      const body = pattern.slice(index + 1, end);
      expression += `[${body.startsWith('^') ? '^/' + body.slice(1).replace(/\\/g, '\\\\') : body.replace(/\\/g, '\\\\')}]`;
      index = end;
    } else if (char === '\\' && index + 1 < pattern.length) {
      expression += pattern[++index]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else expression += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${expression}$`).test(path);
}
