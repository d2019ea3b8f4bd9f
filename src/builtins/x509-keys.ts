// Private keys as Go parses them (PKCS#1, PKCS#8, SEC 1) and encoding/json writes them; tls.X509KeyPair for OPA.
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { fail, type JsonObject } from './builtin.js';
import { MAX_INTEGER_BYTES } from './der.js';
import { decodePem } from './pem.js';
import { parseCertificate } from './x509-certificate.js';

export type PrivateKeyFormat = 'pkcs1' | 'pkcs8' | 'sec1';

const fromBase64Url = (text: string | undefined): bigint => BigInt(`0x${Buffer.from(text ?? '', 'base64url').toString('hex') || '0'}`);

// The curves Go's ecdsa keys may be on (elliptic.P224 to P521); node names them as JWK does.
const GO_CURVES = new Set(['P-256', 'P-384', 'P-521']);

/**
 * The key's Go value as JSON: *rsa.PrivateKey {N, E, D, Primes, Precomputed}, *ecdsa.PrivateKey {Curve, X, Y,
 * D}, ed25519.PrivateKey (seed and public key, base64), *ecdh.PrivateKey (unexported fields: {}).
 */
export function privateKeyJson(der: Buffer, format: PrivateKeyFormat): unknown {
  let jwk: JsonWebKey;
  try {
    jwk = createPrivateKey({ key: der, format: 'der', type: format }).export({ format: 'jwk' });
  } catch {
    fail(`x509: failed to parse private key (${format})`);
  }
  if (jwk.kty === 'RSA') {
    // The bound of der.ts's integers, for the same reason: the numbers are written out as decimal JSON.
    if (Buffer.from(jwk.n ?? '', 'base64url').length > MAX_INTEGER_BYTES) fail('x509: RSA key larger than 16384 bits refused');
    return {
      N: fromBase64Url(jwk.n),
      E: Number(fromBase64Url(jwk.e)),
      D: fromBase64Url(jwk.d),
      Primes: [fromBase64Url(jwk.p), fromBase64Url(jwk.q)],
      // Go 1.26 keeps CRTValues empty for two-prime keys (it is only for multi-prime ones).
      Precomputed: { Dp: fromBase64Url(jwk.dp), Dq: fromBase64Url(jwk.dq), Qinv: fromBase64Url(jwk.qi), CRTValues: [] },
    };
  }
  if (format === 'pkcs1') fail('x509: failed to parse private key (pkcs1)');
  if (jwk.kty === 'EC') {
    if (!GO_CURVES.has(jwk.crv ?? '')) fail('x509: unknown elliptic curve');
    return { Curve: {}, X: fromBase64Url(jwk.x), Y: fromBase64Url(jwk.y), D: fromBase64Url(jwk.d) };
  }
  if (format === 'sec1') fail('x509: failed to parse EC private key');
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return Buffer.concat([Buffer.from(jwk.d ?? '', 'base64url'), Buffer.from(jwk.x ?? '', 'base64url')]).toString('base64');
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'X25519') return {};
  fail('x509: PKCS#8 wrapping contained private key with unknown algorithm');
}

const BLOCK_FORMATS: Readonly<Record<string, PrivateKeyFormat>> = {
  'RSA PRIVATE KEY': 'pkcs1',
  'PRIVATE KEY': 'pkcs8',
  'EC PRIVATE KEY': 'sec1',
};

/** OPA's getPrivateKeysFromPEMData: every RSA, PKCS#8 and EC key block, in order; other blocks skipped. */
export function privateKeysFromPem(text: string): unknown[] {
  const keys: unknown[] = [];
  let rest = text;
  while (rest.length > 0) {
    const decoded = decodePem(rest);
    if (decoded === undefined) break;
    rest = decoded.rest;
    const format = BLOCK_FORMATS[decoded.block.type];
    if (format !== undefined) keys.push(privateKeyJson(decoded.block.bytes, format));
  }
  return keys;
}

interface KeyPairKey {
  readonly json: unknown;
  readonly kind: 'rsa' | 'ecdsa' | 'ed25519';
}

/** tls's parsePrivateKey: PKCS#1, then PKCS#8 (RSA, ECDSA, Ed25519 only), then SEC 1. */
function keyPairKey(der: Buffer): KeyPairKey {
  for (const format of ['pkcs1', 'pkcs8', 'sec1'] as const) {
    let json: unknown;
    try {
      json = privateKeyJson(der, format);
    } catch {
      continue;
    }
    if (typeof json === 'string') return { json, kind: 'ed25519' };
    if (typeof json === 'object' && json !== null && 'N' in json) return { json, kind: 'rsa' };
    if (typeof json === 'object' && json !== null && 'Curve' in json) return { json, kind: 'ecdsa' };
    fail('tls: found unknown private key type in PKCS#8 wrapping');
  }
  fail('tls: failed to parse private key');
}

/** tls.X509KeyPair as encoding/json writes tls.Certificate (Leaf set, as Go 1.23+ does). */
export function parseKeyPair(certificatePem: string, keyPem: string): JsonObject {
  const certificates: Buffer[] = [];
  let rest = certificatePem;
  for (;;) {
    const decoded = decodePem(rest);
    if (decoded === undefined) break;
    rest = decoded.rest;
    if (decoded.block.type === 'CERTIFICATE') certificates.push(decoded.block.bytes);
  }
  if (certificates.length === 0) fail('tls: failed to find "CERTIFICATE" PEM block in certificate input');
  let keyDer: Buffer | undefined;
  rest = keyPem;
  for (;;) {
    const decoded = decodePem(rest);
    if (decoded === undefined) fail('tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input');
    rest = decoded.rest;
    if (decoded.block.type === 'PRIVATE KEY' || decoded.block.type.endsWith(' PRIVATE KEY')) {
      keyDer = decoded.block.bytes;
      break;
    }
  }
  const leaf = parseCertificate(certificates[0]!);
  if (leaf.raw.length !== certificates[0]!.length) fail('x509: trailing data');
  const key = keyPairKey(keyDer);
  const publicKey = leaf.json.PublicKey as Record<string, unknown> | string | null;
  const privateKey = key.json as Record<string, unknown> | string;
  const matches =
    key.kind === 'rsa' && leaf.publicKeyAlgorithm === 1
      ? (publicKey as Record<string, unknown>).N === (privateKey as Record<string, unknown>).N && (publicKey as Record<string, unknown>).E === (privateKey as Record<string, unknown>).E
      : key.kind === 'ecdsa' && leaf.publicKeyAlgorithm === 3
        ? (publicKey as Record<string, unknown>).X === (privateKey as Record<string, unknown>).X && (publicKey as Record<string, unknown>).Y === (privateKey as Record<string, unknown>).Y
        : key.kind === 'ed25519' && leaf.publicKeyAlgorithm === 4
          ? Buffer.from(privateKey as string, 'base64').subarray(32).toString('base64') === publicKey
          : undefined;
  if (leaf.publicKeyAlgorithm === 0 || leaf.publicKeyAlgorithm === 2) fail('tls: unknown public key algorithm');
  if (matches === undefined) fail('tls: private key type does not match public key type');
  if (!matches) fail('tls: private key does not match public key');
  const { URIStrings: _uriStrings, ...leafJson } = leaf.json;
  return {
    Certificate: certificates.map((der) => der.toString('base64')),
    PrivateKey: key.json,
    SupportedSignatureAlgorithms: null,
    OCSPStaple: null,
    SignedCertificateTimestamps: null,
    Leaf: leafJson,
  };
}
