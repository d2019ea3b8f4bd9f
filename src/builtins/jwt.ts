// io.jwt.*: OPA's tokens.go on node:crypto (jose's key import and verification are async; builtins are not).
import { X509Certificate, createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, constants, type KeyObject } from 'node:crypto';
import { BuiltinError, fail, isObject, objectArg, stringArg, type BuiltinTable, type Evaluation, type JsonObject } from './builtin.js';
import { bytesToString, decodeBase64Url } from './encoding.js';
import { goJsonMarshal, parseJson } from './go-json.js';

type Hash = 'sha256' | 'sha384' | 'sha512';

const ALGORITHMS: Readonly<Record<string, { family: 'RS' | 'PS' | 'ES' | 'HS' | 'EdDSA'; hash: Hash | null }>> = {
  RS256: { family: 'RS', hash: 'sha256' }, RS384: { family: 'RS', hash: 'sha384' }, RS512: { family: 'RS', hash: 'sha512' },
  PS256: { family: 'PS', hash: 'sha256' }, PS384: { family: 'PS', hash: 'sha384' }, PS512: { family: 'PS', hash: 'sha512' },
  ES256: { family: 'ES', hash: 'sha256' }, ES384: { family: 'ES', hash: 'sha384' }, ES512: { family: 'ES', hash: 'sha512' },
  HS256: { family: 'HS', hash: 'sha256' }, HS384: { family: 'HS', hash: 'sha384' }, HS512: { family: 'HS', hash: 'sha512' },
  EdDSA: { family: 'EdDSA', hash: null },
};

interface Token {
  header: string;
  payload: string;
  signature: string;
}

function splitToken(value: unknown): Token {
  const text = stringArg(value, 1);
  if (!text.includes('.')) fail('encoded JWT had no period separators');
  const parts = text.split('.');
  if (parts.length !== 3) fail(`encoded JWT must have 3 sections, found ${parts.length}`);
  return { header: parts[0]!, payload: parts[1]!, signature: parts[2]! };
}

function jsonObject(text: string): JsonObject {
  const value = parseJson(text);
  if (!isObject(value)) fail('decoded JSON type was not an Object');
  return value;
}

function decodeHeader(token: Token): JsonObject {
  const header = jsonObject(bytesToString(decodeBase64Url(token.header)));
  if (Object.hasOwn(header, 'enc')) fail('JWT is a JWE object, which is not supported');
  return header;
}

const decodePayloadText = (token: Token): string => bytesToString(decodeBase64Url(token.payload));

/** io.jwt.decode: [header, payload, signature as hex]; a nested JWT (cty "JWT") is decoded instead. */
function decodeToken(value: unknown): unknown[] {
  const token = splitToken(value);
  const header = decodeHeader(token);
  const payloadText = decodePayloadText(token);
  if (Object.hasOwn(header, 'cty')) {
    const cty = header.cty;
    if (typeof cty !== 'string') fail('cty must be a string');
    if (cty === 'JWT') return decodeToken(payloadText.replace(/^["']+|["']+$/g, ''));
  }
  const payload = jsonObject(payloadText);
  return [header, payload, decodeBase64Url(token.signature).toString('hex')];
}

/** A key to verify with: a public key, a JWK secret, or something Go would hold but cannot verify with. */
interface VerificationKey {
  alg: string;
  kid: string;
  key: KeyObject | Buffer | null;
}

/** getKeysFromCertOrJWK: one PEM block (CERTIFICATE or PUBLIC KEY) or a JWK / JWK set. */
function keysFromCertificateOrJwk(text: string): VerificationKey[] {
  const begin = text.indexOf('-----BEGIN ');
  const pem = begin < 0 ? null : /-----BEGIN ([^-\r\n]*)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----(\r?\n)?/.exec(text.slice(begin));
  if (pem !== null) {
    const rest = text.slice(begin + pem.index + pem[0].length);
    if (rest.length > 0) fail('extra data after a PEM certificate block');
    const der = Buffer.from(pem[2]!.replace(/\s+/g, ''), 'base64');
    try {
      if (pem[1] === 'CERTIFICATE') return [{ alg: '', kid: '', key: new X509Certificate(der).publicKey }];
      if (pem[1] === 'PUBLIC KEY') return [{ alg: '', kid: '', key: createPublicKey({ key: der, format: 'der', type: 'spki' }) }];
    } catch {
      fail('failed to parse a PEM certificate or public key');
    }
    fail('failed to extract a Key from the PEM certificate');
  }
  const parsed = parseJson(text);
  if (!isObject(parsed)) fail('failed to parse a JWK key (set)');
  const list = Array.isArray(parsed.keys) ? parsed.keys : [parsed];
  const keys: VerificationKey[] = [];
  for (const jwk of list) {
    if (!isObject(jwk)) fail('failed to parse a JWK key (set)');
    const alg = typeof jwk.alg === 'string' ? jwk.alg : '';
    if (alg !== '' && ALGORITHMS[alg] === undefined) continue;
    keys.push({ alg, kid: typeof jwk.kid === 'string' ? jwk.kid : '', key: importVerificationJwk(jwk) });
  }
  return keys;
}

function importVerificationJwk(jwk: JsonObject): KeyObject | Buffer | null {
  try {
    if (jwk.kty === 'oct') {
      if (typeof jwk.k !== 'string') fail('invalid oct key');
      return decodeBase64Url(jwk.k);
    }
    // A private JWK is held by Go as a private key, which the verify functions refuse.
    if (jwk.d !== undefined) {
      createPrivateKey({ key: jwk as never, format: 'jwk' });
      return null;
    }
    return createPublicKey({ key: jwk as never, format: 'jwk' });
  } catch (error) {
    if (error instanceof BuiltinError) throw error;
    fail('failed to parse a JWK key (set)');
  }
}

/** ECDSA's r || s (split in half, whatever the length, as tokens.go does) as DER. */
function rawToDer(signature: Buffer): Buffer {
  const half = Math.floor(signature.length / 2);
  const integer = (bytes: Buffer): Buffer => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    let body = bytes.subarray(start);
    if (body.length === 0) body = Buffer.from([0]);
    if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
    return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
  };
  const content = Buffer.concat([integer(signature.subarray(0, half)), integer(signature.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(content.length), content]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

/** One signature check with one key, as the io.jwt.verify_* functions (and jwsbb.Verify) do it. */
function verifyWith(algorithm: string, key: KeyObject | Buffer | null, data: Buffer, signature: Buffer, strictEcdsaLength: boolean): boolean {
  const spec = ALGORITHMS[algorithm];
  if (spec === undefined || key === null) return false;
  try {
    if (spec.family === 'HS') {
      if (!Buffer.isBuffer(key)) return false;
      const mac = createHmac(spec.hash!, key).update(data).digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    if (Buffer.isBuffer(key)) return false;
    const type = key.asymmetricKeyType;
    switch (spec.family) {
      case 'RS':
        return type === 'rsa' && verify(spec.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'PS':
        return type === 'rsa' && verify(spec.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
      case 'ES': {
        if (type !== 'ec') return false;
        if (strictEcdsaLength) {
          const size = Math.ceil(curveBits(key) / 8);
          if (signature.length !== 2 * size) return false;
        }
        return verify(spec.hash, data, { key, dsaEncoding: 'der' }, rawToDer(signature));
      }
      default:
        return type === 'ed25519' && verify(null, data, key, signature);
    }
  } catch {
    return false;
  }
}

function curveBits(key: KeyObject): number {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 384 : curve === 'secp521r1' ? 521 : 256;
}

/** io.jwt.verify_<alg>: the kid-matching key if any, else every key whose alg (if set) matches the header's. */
function verifyTokenWithKeys(algorithm: string, tokenValue: unknown, keyValue: unknown): boolean {
  const token = splitToken(tokenValue);
  const keys = keysFromCertificateOrJwk(stringArg(keyValue, 2));
  const signature = decodeBase64Url(token.signature);
  const header = parseHeaderFields(decodeHeader(token));
  const data = Buffer.from(`${token.header}.${token.payload}`);
  if (header.kid !== '') {
    const match = keys.find((key) => key.kid === header.kid);
    if (match !== undefined) return verifyWith(algorithm, match.key, data, signature, false);
  }
  return keys.some((key) => (key.alg === '' || key.alg === header.alg) && verifyWith(algorithm, key.key, data, signature, false));
}

interface HeaderFields {
  alg: string;
  kid: string;
  cty: string;
  crit: Set<string>;
  unknown: string[];
}

/** parseTokenHeader: alg, kid, typ and cty must be strings, crit a non-empty list. */
function parseHeaderFields(header: JsonObject): HeaderFields {
  const fields: HeaderFields = { alg: '', kid: '', cty: '', crit: new Set(), unknown: [] };
  for (const [name, value] of Object.entries(header)) {
    if (name === 'alg' || name === 'kid' || name === 'typ' || name === 'cty') {
      if (typeof value !== 'string') fail(`${name}: must be a string`);
      if (name !== 'typ') fields[name] = value;
    } else if (name === 'crit') {
      if (!Array.isArray(value)) fail('crit: must be a list');
      for (const item of value) if (typeof item === 'string') fields.crit.add(item);
      if (fields.crit.size === 0) fail('crit: must be a nonempty list');
    } else {
      fields.unknown.push(name);
    }
  }
  return fields;
}

function verifyHmac(hash: Hash, tokenValue: unknown, secretValue: unknown): boolean {
  stringArg(tokenValue, 1);
  const secret = stringArg(secretValue, 2);
  const token = splitToken(tokenValue);
  const mac = createHmac(hash, Buffer.from(secret, 'utf8')).update(`${token.header}.${token.payload}`).digest();
  const signature = decodeBase64Url(token.signature);
  return mac.length === signature.length && timingSafeEqual(mac, signature);
}

interface Constraints {
  keys: VerificationKey[] | undefined;
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  time: number;
}

function parseConstraints(object: JsonObject, evaluation: Evaluation): Constraints {
  const constraints: Constraints = { keys: undefined, secret: '', alg: '', iss: '', aud: '', time: -1 };
  for (const [name, value] of Object.entries(object)) {
    switch (name) {
      case 'cert':
        if (typeof value !== 'string') fail('cert constraint: must be a string');
        constraints.keys = keysFromCertificateOrJwk(value);
        break;
      case 'secret':
      case 'alg':
      case 'iss':
      case 'aud':
        if (typeof value !== 'string') fail(`${name} constraint: must be a string`);
        constraints[name] = value;
        break;
      case 'time':
        if (typeof value !== 'number') fail('token time constraint: must be a number');
        if (value < 0) fail('token time constraint: must not be negative');
        constraints.time = value;
        break;
      default:
        fail(`unknown token validation constraint: ${name}`);
    }
  }
  if (constraints.time === -1) constraints.time = Number(evaluation.nowNs);
  const keyConstraints = (constraints.keys !== undefined ? 1 : 0) + (constraints.secret !== '' ? 1 : 0);
  if (keyConstraints > 1) fail('duplicate key constraints');
  if (keyConstraints < 1) fail('no key constraint');
  return constraints;
}

const UNVERIFIED = [false, {}, {}];

function validAudience(aud: unknown, wanted: string): boolean {
  if (typeof aud === 'string') return aud === wanted;
  if (!Array.isArray(aud)) return false;
  return aud.some((item) => typeof item === 'string' && item === wanted);
}

function decodeVerify(evaluation: Evaluation, tokenValue: unknown, constraintsValue: unknown): unknown {
  const constraints = parseConstraints(objectArg(constraintsValue, 2), evaluation);
  let current: unknown = tokenValue;
  let token: Token;
  let header: JsonObject;
  let payloadText: string;
  for (;;) {
    token = splitToken(current);
    header = decodeHeader(token);
    const fields = parseHeaderFields(header);
    if (fields.alg === '' || fields.unknown.some((name) => fields.crit.has(name))) return UNVERIFIED;
    if (constraints.alg !== '' && constraints.alg !== fields.alg) return UNVERIFIED;
    const signature = decodeBase64Url(token.signature);
    const data = Buffer.from(`${token.header}.${token.payload}`);
    let verified: boolean;
    if (constraints.keys !== undefined) {
      const match = fields.kid === '' ? undefined : constraints.keys.find((key) => key.kid === fields.kid);
      verified =
        match !== undefined
          ? verifyWith(fields.alg, match.key, data, signature, true)
          : constraints.keys.some((key) => (key.alg === '' || key.alg === fields.alg) && verifyWith(fields.alg, key.key, data, signature, true));
    } else {
      verified = verifyWith(fields.alg, Buffer.from(constraints.secret, 'utf8'), data, signature, true);
    }
    if (!verified) return UNVERIFIED;
    payloadText = decodePayloadText(token);
    if (fields.cty.toLowerCase() === 'jwt') {
      current = payloadText;
      continue;
    }
    break;
  }
  const payload = jsonObject(payloadText);
  if (constraints.iss !== '') {
    if (!Object.hasOwn(payload, 'iss') || payload.iss !== constraints.iss) return UNVERIFIED;
  }
  if (Object.hasOwn(payload, 'aud')) {
    if (!validAudience(payload.aud, constraints.aud)) return UNVERIFIED;
  } else if (constraints.aud !== '') {
    return UNVERIFIED;
  }
  const nowSeconds = constraints.time / 1e9;
  if (Object.hasOwn(payload, 'exp')) {
    if (typeof payload.exp !== 'number') fail('exp value must be a number');
    if (nowSeconds >= payload.exp) return UNVERIFIED;
  }
  if (Object.hasOwn(payload, 'nbf')) {
    if (typeof payload.nbf !== 'number') fail('nbf value must be a number');
    if (nowSeconds < payload.nbf) return UNVERIFIED;
  }
  return [true, header, payload];
}

/** jwk.Parse then Key(0): the first key of a JWK or JWK set, as a signing key. */
function signingKey(jwkText: string): { key: KeyObject | Buffer; jwk: JsonObject } {
  const parsed = parseJson(jwkText);
  if (!isObject(parsed)) fail('failed to parse JWK');
  const list = Array.isArray(parsed.keys) ? parsed.keys : [parsed];
  if (list.length === 0) fail('no keys found in JWK set');
  const jwk = list[0];
  if (!isObject(jwk)) fail('failed to parse JWK');
  try {
    if (jwk.kty === 'oct') {
      if (typeof jwk.k !== 'string') fail('invalid oct key');
      return { key: decodeBase64Url(jwk.k), jwk };
    }
    if (jwk.d !== undefined) return { key: createPrivateKey({ key: jwk as never, format: 'jwk' }), jwk };
    return { key: createPublicKey({ key: jwk as never, format: 'jwk' }), jwk };
  } catch (error) {
    if (error instanceof BuiltinError) throw error;
    fail('failed to parse JWK');
  }
}

function signWith(algorithm: string, key: KeyObject | Buffer, data: Buffer): Buffer {
  const spec = ALGORITHMS[algorithm]!;
  if (spec.family === 'HS') {
    if (!Buffer.isBuffer(key)) fail('HMAC needs a symmetric key');
    return createHmac(spec.hash!, key).update(data).digest();
  }
  if (Buffer.isBuffer(key) || key.type !== 'private') fail(`${algorithm} needs a private key`);
  const type = key.asymmetricKeyType;
  try {
    switch (spec.family) {
      case 'RS':
        if (type !== 'rsa') fail('not an RSA key');
        return sign(spec.hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
      case 'PS':
        if (type !== 'rsa') fail('not an RSA key');
        return sign(spec.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
      case 'ES':
        if (type !== 'ec') fail('not an ECDSA key');
        return sign(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' });
      default:
        if (type !== 'ed25519') fail('not an Ed25519 key');
        return sign(null, data, key);
    }
  } catch (error) {
    if (error instanceof BuiltinError) throw error;
    fail(`signing failed: ${(error as Error).message}`);
  }
}

function isValidJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** commonBuiltinJWTEncodeSign: base64url(header) . base64url(payload) . base64url(signature). */
function encodeSign(headerText: string, payloadText: string, jwkText: string): string {
  const { key } = signingKey(jwkText);
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    header = undefined;
  }
  const alg = isObject(header) ? header.alg : undefined;
  if (typeof alg !== 'string') fail("missing or invalid 'alg' header");
  if (ALGORITHMS[alg] === undefined) fail(`unknown JWS algorithm: ${alg}`);
  const typ = isObject(header) ? header.typ : undefined;
  if ((typeof typ !== 'string' || typ === 'JWT') && !isValidJson(payloadText)) fail('type is JWT but payload is not JSON');
  const signingInput = `${Buffer.from(headerText).toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`;
  return `${signingInput}.${signWith(alg, key, Buffer.from(signingInput)).toString('base64url')}`;
}

const verifier = (algorithm: string) => (_evaluation: Evaluation, token: unknown, key: unknown) => verifyTokenWithKeys(algorithm, token, key);

export const jwtBuiltins: BuiltinTable = {
  'io.jwt.decode': (_evaluation, token) => decodeToken(token),
  'io.jwt.decode_verify': decodeVerify,
  'io.jwt.verify_rs256': verifier('RS256'),
  'io.jwt.verify_rs384': verifier('RS384'),
  'io.jwt.verify_rs512': verifier('RS512'),
  'io.jwt.verify_ps256': verifier('PS256'),
  'io.jwt.verify_ps384': verifier('PS384'),
  'io.jwt.verify_ps512': verifier('PS512'),
  'io.jwt.verify_es256': verifier('ES256'),
  'io.jwt.verify_es384': verifier('ES384'),
  'io.jwt.verify_es512': verifier('ES512'),
  'io.jwt.verify_eddsa': verifier('EdDSA'),
  'io.jwt.verify_hs256': (_evaluation, token, secret) => verifyHmac('sha256', token, secret),
  'io.jwt.verify_hs384': (_evaluation, token, secret) => verifyHmac('sha384', token, secret),
  'io.jwt.verify_hs512': (_evaluation, token, secret) => verifyHmac('sha512', token, secret),
  'io.jwt.encode_sign': (_evaluation, headers, payload, key) =>
    encodeSign(goJsonMarshal(objectArg(headers, 1)), goJsonMarshal(payload), goJsonMarshal(objectArg(key, 3))),
  'io.jwt.encode_sign_raw': (_evaluation, headers, payload, key) => {
    const jwk = stringArg(key, 3);
    return encodeSign(stringArg(headers, 1), stringArg(payload, 2), jwk);
  },
};
