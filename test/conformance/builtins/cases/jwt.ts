// io.jwt.*: keys and tokens are generated once (cached under node_modules/.cache), never pasted.
import 'reflect-metadata'; // required by @peculiar/x509's dependency injection (tsyringe)
import { generateKeyPairSync, createHmac, createPrivateKey, createPublicKey, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import * as x509 from '@peculiar/x509';
import type { Cases } from '../differential.js';
import { scratchDir } from '../differential.js';

interface Fixtures {
  rsa: { privateJwk: JsonWebKey; publicPem: string; certificatePem: string };
  ec256: { privateJwk: JsonWebKey; publicPem: string };
  ec384: { privateJwk: JsonWebKey; publicPem: string };
  ec521: { privateJwk: JsonWebKey; publicPem: string };
  ed25519: { privateJwk: JsonWebKey; publicPem: string };
  otherRsa: { publicPem: string };
}

const pem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

async function fixtures(): Promise<Fixtures> {
  const file = join(scratchDir('jwt'), 'fixtures.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Fixtures;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pair = (curve: string) => generateKeyPairSync('ec', { namedCurve: curve });
  const ec256 = pair('P-256');
  const ec384 = pair('P-384');
  const ec521 = pair('P-521');
  const ed = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const cryptoKeys = {
    privateKey: await webcrypto.subtle.importKey('jwk', rsa.privateKey.export({ format: 'jwk' }), algorithm, true, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', rsa.publicKey.export({ format: 'jwk' }), algorithm, true, ['verify']),
  };
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=jwt-signer',
    notBefore: new Date('2024-01-01T00:00:00Z'),
    notAfter: new Date('2034-01-01T00:00:00Z'),
    keys: cryptoKeys as webcrypto.CryptoKeyPair,
    signingAlgorithm: algorithm,
  });
  const made: Fixtures = {
    rsa: { privateJwk: rsa.privateKey.export({ format: 'jwk' }), publicPem: pem(rsa.publicKey), certificatePem: certificate.toString('pem') },
    ec256: { privateJwk: ec256.privateKey.export({ format: 'jwk' }), publicPem: pem(ec256.publicKey) },
    ec384: { privateJwk: ec384.privateKey.export({ format: 'jwk' }), publicPem: pem(ec384.publicKey) },
    ec521: { privateJwk: ec521.privateKey.export({ format: 'jwk' }), publicPem: pem(ec521.publicKey) },
    ed25519: { privateJwk: ed.privateKey.export({ format: 'jwk' }), publicPem: pem(ed.publicKey) },
    otherRsa: { publicPem: pem(other.publicKey) },
  };
  writeFileSync(file, JSON.stringify(made));
  return made;
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

async function jws(header: Record<string, unknown>, payload: unknown, jwk: JsonWebKey): Promise<string> {
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return new CompactSign(bytes).setProtectedHeader(header as { alg: string }).sign(key);
}

function hs(header: Record<string, unknown>, payload: unknown, secret: string, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

const q = (value: unknown): string => JSON.stringify(value);

export async function jwtCases(): Promise<Cases> {
  const f = await fixtures();
  const claims = { sub: 'alice', iss: 'https://issuer.example', aud: 'meshwarden', exp: 2000000000, nbf: 1700000000 };
  const rs256 = await jws({ alg: 'RS256', typ: 'JWT' }, claims, f.rsa.privateJwk);
  const rs384 = await jws({ alg: 'RS384' }, claims, f.rsa.privateJwk);
  const rs512 = await jws({ alg: 'RS512' }, claims, f.rsa.privateJwk);
  const ps256 = await jws({ alg: 'PS256' }, claims, f.rsa.privateJwk);
  const ps384 = await jws({ alg: 'PS384' }, claims, f.rsa.privateJwk);
  const ps512 = await jws({ alg: 'PS512' }, claims, f.rsa.privateJwk);
  const es256 = await jws({ alg: 'ES256' }, claims, f.ec256.privateJwk);
  const es384 = await jws({ alg: 'ES384' }, claims, f.ec384.privateJwk);
  const es512 = await jws({ alg: 'ES512' }, claims, f.ec521.privateJwk);
  const eddsa = await jws({ alg: 'EdDSA' }, claims, f.ed25519.privateJwk);
  const kid = await jws({ alg: 'RS256', kid: 'k1' }, claims, f.rsa.privateJwk);
  const crit = hs({ alg: 'HS256', crit: ['exp2'], exp2: 1 }, claims, 'secret');
  const critKnown = hs({ alg: 'HS256', crit: ['alg'] }, claims, 'secret');
  const hs256 = hs({ alg: 'HS256', typ: 'JWT' }, claims, 'secret');
  const hs384 = hs({ alg: 'HS384' }, claims, 'secret', 'sha384');
  const hs512 = hs({ alg: 'HS512' }, claims, 'secret', 'sha512');
  const nested = hs({ alg: 'HS256', cty: 'JWT' }, `"${hs256}"`, 'secret');
  const nestedRaw = hs({ alg: 'HS256', cty: 'JWT' }, hs256, 'secret');
  const jwe = `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.${b64(claims)}.${b64('x')}`;
  const [h, , s] = rs256.split('.');
  const tampered = `${h}.${b64({ ...claims, sub: 'mallory' })}.${s}`;
  const expired = hs({ alg: 'HS256' }, { ...claims, exp: 1600000000 }, 'secret');
  const audList = hs({ alg: 'HS256' }, { ...claims, aud: ['a', 'meshwarden'] }, 'secret');
  const noAud = hs({ alg: 'HS256' }, { sub: 'x' }, 'secret');
  const badExp = hs({ alg: 'HS256' }, { exp: 'soon' }, 'secret');
  const noAlg = hs({ typ: 'JWT' }, claims, 'secret');
  const rsaPublicJwk = createPublicKey({ key: f.rsa.privateJwk, format: 'jwk' }).export({ format: 'jwk' });
  const jwks = { keys: [{ ...rsaPublicJwk, kid: 'k1', alg: 'RS256' }] };
  const jwksOtherKid = { keys: [{ ...rsaPublicJwk, kid: 'k2', alg: 'RS256' }] };
  const jwksWrongAlg = { keys: [{ ...rsaPublicJwk, alg: 'RS512' }] };
  const ecPublicJwk = createPublicKey({ key: f.ec256.privateJwk, format: 'jwk' }).export({ format: 'jwk' });
  const T = 1800000000000000000;
  const signHeaders = { alg: 'HS256', typ: 'JWT' };
  const octJwk = { kty: 'oct', k: Buffer.from('secret').toString('base64url') };

  return {
    decode: `io.jwt.decode(${q(rs256)})`,
    decode_hs: `io.jwt.decode(${q(hs256)})`,
    decode_nested: `io.jwt.decode(${q(nested)})`,
    decode_nested_raw: `io.jwt.decode(${q(nestedRaw)})`,
    decode_two_parts: `io.jwt.decode("a.b")`,
    decode_no_dots: `io.jwt.decode("abc")`,
    decode_bad_base64: `io.jwt.decode("a!.b.c")`,
    decode_jwe: `io.jwt.decode(${q(jwe)})`,
    decode_header_not_object: `io.jwt.decode(${q(`${b64([1])}.${b64(claims)}.`)})`,
    decode_payload_not_json: `io.jwt.decode(${q(`${b64({ alg: 'none' })}.${b64('nope')}.`)})`,
    decode_padded: `io.jwt.decode(${q(`${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64')}.${b64(claims)}.`)})`,
    rs256_pem: `io.jwt.verify_rs256(${q(rs256)}, ${q(f.rsa.publicPem)})`,
    rs256_cert: `io.jwt.verify_rs256(${q(rs256)}, ${q(f.rsa.certificatePem)})`,
    rs256_wrong_key: `io.jwt.verify_rs256(${q(rs256)}, ${q(f.otherRsa.publicPem)})`,
    rs256_tampered: `io.jwt.verify_rs256(${q(tampered)}, ${q(f.rsa.publicPem)})`,
    rs256_ec_key: `io.jwt.verify_rs256(${q(rs256)}, ${q(f.ec256.publicPem)})`,
    rs256_bad_pem: `io.jwt.verify_rs256(${q(rs256)}, "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n")`,
    rs256_extra_after_pem: `io.jwt.verify_rs256(${q(rs256)}, ${q(`${f.rsa.publicPem}trailing`)})`,
    rs256_jwks: `io.jwt.verify_rs256(${q(kid)}, ${q(JSON.stringify(jwks))})`,
    rs256_jwks_other_kid: `io.jwt.verify_rs256(${q(kid)}, ${q(JSON.stringify(jwksOtherKid))})`,
    rs256_jwks_wrong_alg: `io.jwt.verify_rs256(${q(rs256)}, ${q(JSON.stringify(jwksWrongAlg))})`,
    rs256_single_jwk: `io.jwt.verify_rs256(${q(rs256)}, ${q(JSON.stringify(rsaPublicJwk))})`,
    rs256_garbage_key: `io.jwt.verify_rs256(${q(rs256)}, "not a key")`,
    rs256_malformed_token: `io.jwt.verify_rs256("a.b", ${q(f.rsa.publicPem)})`,
    rs384: `io.jwt.verify_rs384(${q(rs384)}, ${q(f.rsa.publicPem)})`,
    rs512: `io.jwt.verify_rs512(${q(rs512)}, ${q(f.rsa.publicPem)})`,
    rs512_with_256: `io.jwt.verify_rs512(${q(rs256)}, ${q(f.rsa.publicPem)})`,
    ps256: `io.jwt.verify_ps256(${q(ps256)}, ${q(f.rsa.publicPem)})`,
    ps384: `io.jwt.verify_ps384(${q(ps384)}, ${q(f.rsa.publicPem)})`,
    ps512: `io.jwt.verify_ps512(${q(ps512)}, ${q(f.rsa.publicPem)})`,
    ps256_rs_token: `io.jwt.verify_ps256(${q(rs256)}, ${q(f.rsa.publicPem)})`,
    es256: `io.jwt.verify_es256(${q(es256)}, ${q(f.ec256.publicPem)})`,
    es256_jwk: `io.jwt.verify_es256(${q(es256)}, ${q(JSON.stringify(ecPublicJwk))})`,
    es384: `io.jwt.verify_es384(${q(es384)}, ${q(f.ec384.publicPem)})`,
    es512: `io.jwt.verify_es512(${q(es512)}, ${q(f.ec521.publicPem)})`,
    es256_wrong_curve: `io.jwt.verify_es256(${q(es256)}, ${q(f.ec384.publicPem)})`,
    es256_rsa_key: `io.jwt.verify_es256(${q(es256)}, ${q(f.rsa.publicPem)})`,
    eddsa: `io.jwt.verify_eddsa(${q(eddsa)}, ${q(f.ed25519.publicPem)})`,
    eddsa_wrong: `io.jwt.verify_eddsa(${q(rs256)}, ${q(f.ed25519.publicPem)})`,
    hs256: `io.jwt.verify_hs256(${q(hs256)}, "secret")`,
    hs256_wrong: `io.jwt.verify_hs256(${q(hs256)}, "other")`,
    hs384: `io.jwt.verify_hs384(${q(hs384)}, "secret")`,
    hs512: `io.jwt.verify_hs512(${q(hs512)}, "secret")`,
    hs256_malformed: `io.jwt.verify_hs256("a.b", "secret")`,
    hs256_bad_signature: `io.jwt.verify_hs256("a.b.!!", "secret")`,
    dv_cert: `io.jwt.decode_verify(${q(rs256)}, {"cert": ${q(f.rsa.certificatePem)}, "aud": "meshwarden", "time": ${T}})`,
    dv_pem: `io.jwt.decode_verify(${q(rs256)}, {"cert": ${q(f.rsa.publicPem)}, "aud": "meshwarden", "iss": "https://issuer.example", "time": ${T}})`,
    dv_es512: `io.jwt.decode_verify(${q(es512)}, {"cert": ${q(f.ec521.publicPem)}, "aud": "meshwarden", "time": ${T}})`,
    dv_eddsa: `io.jwt.decode_verify(${q(eddsa)}, {"cert": ${q(f.ed25519.publicPem)}, "aud": "meshwarden", "time": ${T}})`,
    dv_jwks_kid: `io.jwt.decode_verify(${q(kid)}, {"cert": ${q(JSON.stringify(jwks))}, "aud": "meshwarden", "time": ${T}})`,
    dv_secret: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_wrong_secret: `io.jwt.decode_verify(${q(hs256)}, {"secret": "nope", "aud": "meshwarden", "time": ${T}})`,
    dv_secret_rs_token: `io.jwt.decode_verify(${q(rs256)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_no_aud_constraint: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "time": ${T}})`,
    dv_aud_list: `io.jwt.decode_verify(${q(audList)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_aud_missing: `io.jwt.decode_verify(${q(noAud)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_no_aud_no_constraint: `io.jwt.decode_verify(${q(noAud)}, {"secret": "secret", "time": ${T}})`,
    dv_iss_mismatch: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "aud": "meshwarden", "iss": "other", "time": ${T}})`,
    dv_expired: `io.jwt.decode_verify(${q(expired)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_expired_now: `io.jwt.decode_verify(${q(expired)}, {"secret": "secret", "aud": "meshwarden"})`,
    dv_exp_boundary: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "aud": "meshwarden", "time": 2000000000000000000})`,
    dv_nbf_future: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "aud": "meshwarden", "time": 1600000000000000000})`,
    dv_bad_exp: `io.jwt.decode_verify(${q(badExp)}, {"secret": "secret", "time": ${T}})`,
    dv_alg_mismatch: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "alg": "HS512", "time": ${T}})`,
    dv_alg_match: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "alg": "HS256", "aud": "meshwarden", "time": ${T}})`,
    dv_no_alg: `io.jwt.decode_verify(${q(noAlg)}, {"secret": "secret", "time": ${T}})`,
    dv_crit_unknown: `io.jwt.decode_verify(${q(crit)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_crit_known: `io.jwt.decode_verify(${q(critKnown)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_unknown_constraint: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "colour": "blue"})`,
    dv_two_keys: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "cert": ${q(f.rsa.publicPem)}})`,
    dv_no_key: `io.jwt.decode_verify(${q(hs256)}, {"aud": "meshwarden"})`,
    dv_negative_time: `io.jwt.decode_verify(${q(hs256)}, {"secret": "secret", "time": -1})`,
    dv_nested: `io.jwt.decode_verify(${q(nestedRaw)}, {"secret": "secret", "aud": "meshwarden", "time": ${T}})`,
    dv_malformed: `io.jwt.decode_verify("a.b", {"secret": "secret"})`,
    sign_hs256: `io.jwt.encode_sign(${q(signHeaders)}, {"sub": "alice", "n": 1, "html": "<&>"}, ${q(octJwk)})`,
    sign_rs256: `io.jwt.encode_sign({"alg": "RS256"}, {"sub": "alice"}, ${q(f.rsa.privateJwk)})`,
    sign_eddsa: `io.jwt.encode_sign({"alg": "EdDSA"}, {"sub": "alice"}, ${q(f.ed25519.privateJwk)})`,
    sign_es256_roundtrip: { body: `t := io.jwt.encode_sign({"alg": "ES256"}, {"sub": "alice"}, ${q(f.ec256.privateJwk)}); x := io.jwt.verify_es256(t, ${q(f.ec256.publicPem)})` },
    sign_ps256_roundtrip: { body: `t := io.jwt.encode_sign({"alg": "PS256"}, {"sub": "alice"}, ${q(f.rsa.privateJwk)}); x := io.jwt.verify_ps256(t, ${q(f.rsa.publicPem)})` },
    sign_unknown_alg: `io.jwt.encode_sign({"alg": "none"}, {"sub": "alice"}, ${q(octJwk)})`,
    sign_no_alg: `io.jwt.encode_sign({"typ": "JWT"}, {"sub": "alice"}, ${q(octJwk)})`,
    sign_public_key: `io.jwt.encode_sign({"alg": "RS256"}, {"sub": "alice"}, ${q(rsaPublicJwk)})`,
    sign_raw_hs256: `io.jwt.encode_sign_raw(${q(JSON.stringify(signHeaders))}, ${q('{"sub":"alice"}')}, ${q(JSON.stringify(octJwk))})`,
    sign_raw_not_json_payload: `io.jwt.encode_sign_raw(${q(JSON.stringify(signHeaders))}, "not json", ${q(JSON.stringify(octJwk))})`,
    sign_raw_other_typ: `io.jwt.encode_sign_raw(${q('{"alg":"HS256","typ":"text"}')}, "not json", ${q(JSON.stringify(octJwk))})`,
    sign_raw_bad_jwk: `io.jwt.encode_sign_raw(${q(JSON.stringify(signHeaders))}, "{}", "not a jwk")`,
  };
}
