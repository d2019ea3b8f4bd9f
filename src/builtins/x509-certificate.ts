// Go's crypto/x509.ParseCertificates, ported: each certificate as the JSON encoding/json writes for x509.Certificate.
//
// Field names, order, nil-versus-empty lists (null versus []) and the values of Go's enums follow
// crypto/x509/parser.go and x509.go of Go 1.26 (the toolchain opa-envoy-plugin v1.19.1 is built with). Big
// integers (serial numbers, RSA moduli, curve points) stay bigint so they reach Rego as exact JSON numbers.
import { ECDH } from 'node:crypto';
import { isIP } from 'node:net';
import { fail, type JsonObject } from './builtin.js';
import { DerReader, TAG, base128Arcs, bitAt, contextConstructed, contextTag, integerOf, objectIdentifierOf, rightAlign, type Element } from './der.js';
import { parseUrl } from './go-url.js';
import { formatGoTime, parseGeneralizedTime, parseUtcTime, type CertificateTime } from './x509-time.js';
import { formatIp } from './ip-text.js';
import { parseAsn1String, parseMailbox } from './x509-values.js';

/** One parsed certificate: the Go JSON object plus what verification needs. */
export interface ParsedCertificate {
  readonly json: JsonObject;
  readonly raw: Buffer;
  readonly rawTbs: Buffer;
  readonly rawSubject: Buffer;
  readonly rawIssuer: Buffer;
  readonly rawSpki: Buffer;
  readonly signature: Buffer;
  readonly signatureAlgorithm: number;
  readonly publicKeyAlgorithm: number;
  readonly notBefore: CertificateTime;
  readonly notAfter: CertificateTime;
  readonly keyUsage: number;
  readonly extKeyUsage: number[];
  readonly unknownExtKeyUsage: number[][];
  readonly basicConstraintsValid: boolean;
  readonly isCA: boolean;
  readonly maxPathLen: number;
  readonly subjectKeyId: Buffer | null;
  readonly authorityKeyId: Buffer | null;
  readonly dnsNames: string[];
  readonly unhandledCriticalExtensions: number[][];
  readonly hasNameConstraints: boolean;
  /** The name constraints, for verification (Go's Permitted… and Excluded… fields). */
  readonly nameConstraints: { readonly permitted: Subtrees; readonly excluded: Subtrees };
  /** The SANs as verification reads them: IPs as their bytes, URIs as their text. */
  readonly subjectAltNames: { readonly present: boolean; readonly emails: string[]; readonly ips: Buffer[]; readonly uris: string[] };
}

const b64 = (bytes: Buffer | null): string | null => (bytes === null ? null : bytes.toString('base64'));
const oidEquals = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

// x509.SignatureAlgorithm values by OID (the signatureAlgorithmDetails table).
const SIGNATURE_ALGORITHMS: ReadonlyArray<[string, number]> = [
  ['1.2.840.113549.1.1.4', 2], // MD5WithRSA
  ['1.2.840.113549.1.1.5', 3], // SHA1WithRSA
  ['1.3.14.3.2.29', 3], // SHA1WithRSA (ISO)
  ['1.2.840.113549.1.1.11', 4], // SHA256WithRSA
  ['1.2.840.113549.1.1.12', 5], // SHA384WithRSA
  ['1.2.840.113549.1.1.13', 6], // SHA512WithRSA
  ['1.2.840.10040.4.3', 7], // DSAWithSHA1
  ['2.16.840.1.101.3.4.3.2', 8], // DSAWithSHA256
  ['1.2.840.10045.4.1', 9], // ECDSAWithSHA1
  ['1.2.840.10045.4.3.2', 10], // ECDSAWithSHA256
  ['1.2.840.10045.4.3.3', 11], // ECDSAWithSHA384
  ['1.2.840.10045.4.3.4', 12], // ECDSAWithSHA512
  ['1.3.101.112', 16], // PureEd25519
];
const OID_RSA_PSS = '1.2.840.113549.1.1.10';

// x509.PublicKeyAlgorithm values.
export const PUBLIC_KEY_ALGORITHMS: Readonly<Record<string, number>> = {
  '1.2.840.113549.1.1.1': 1, // RSA
  '1.2.840.10040.4.1': 2, // DSA
  '1.2.840.10045.2.1': 3, // ECDSA
  '1.3.101.112': 4, // Ed25519
};

// The named curves Go accepts, with their field size in bytes and OpenSSL's name.
const CURVES: Readonly<Record<string, { size: number; name: string }>> = {
  '1.3.132.0.33': { size: 28, name: 'secp224r1' },
  '1.2.840.10045.3.1.7': { size: 32, name: 'prime256v1' },
  '1.3.132.0.34': { size: 48, name: 'secp384r1' },
  '1.3.132.0.35': { size: 66, name: 'secp521r1' },
};

// x509.ExtKeyUsage values by OID (extKeyUsageOIDs).
export const EXT_KEY_USAGES: ReadonlyArray<[string, number]> = [
  ['2.5.29.37.0', 0],
  ['1.3.6.1.5.5.7.3.1', 1],
  ['1.3.6.1.5.5.7.3.2', 2],
  ['1.3.6.1.5.5.7.3.3', 3],
  ['1.3.6.1.5.5.7.3.4', 4],
  ['1.3.6.1.5.5.7.3.5', 5],
  ['1.3.6.1.5.5.7.3.6', 6],
  ['1.3.6.1.5.5.7.3.7', 7],
  ['1.3.6.1.5.5.7.3.8', 8],
  ['1.3.6.1.5.5.7.3.9', 9],
  ['1.3.6.1.4.1.311.10.3.3', 10],
  ['2.16.840.1.113730.4.1', 11],
  ['1.3.6.1.4.1.311.2.1.22', 12],
  ['1.3.6.1.4.1.311.61.1.1', 13],
];

/** x509.ParseCertificates: DER certificates back to back; any error fails the builtin. */
export function parseCertificates(der: Buffer): ParsedCertificate[] {
  const certificates: ParsedCertificate[] = [];
  let rest = der;
  while (rest.length > 0) {
    const certificate = parseCertificate(rest);
    certificates.push(certificate);
    rest = rest.subarray(certificate.raw.length);
  }
  return certificates;
}

export interface AlgorithmIdentifier {
  readonly oid: number[];
  readonly parameters: Element | undefined;
}

export function parseAlgorithmIdentifier(body: Buffer): AlgorithmIdentifier {
  const reader = new DerReader(body);
  const oid = reader.readObjectIdentifier('x509: malformed OID');
  if (reader.empty) return { oid, parameters: undefined };
  return { oid, parameters: reader.readAny('x509: malformed parameters') };
}

export function signatureAlgorithmOf(ai: AlgorithmIdentifier): number {
  const oid = ai.oid.join('.');
  if (oid === '1.3.101.112' && ai.parameters !== undefined) return 0;
  if (oid === OID_RSA_PSS) return pssAlgorithmOf(ai.parameters);
  return SIGNATURE_ALGORITHMS.find(([id]) => id === oid)?.[1] ?? 0;
}

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const NULL_BYTES = Buffer.from([0x05, 0x00]);

/** RSASSA-PSS parameters, bucketed as Go does: MGF1 with the same hash, salt = hash length, trailer 1. */
function pssAlgorithmOf(parameters: Element | undefined): number {
  try {
    if (parameters === undefined || parameters.tag !== TAG.SEQUENCE) return 0;
    const reader = new DerReader(parameters.body);
    const hash = reader.read(contextConstructed(0), 'pss');
    const mgf = reader.read(contextConstructed(1), 'pss');
    const salt = reader.read(contextConstructed(2), 'pss');
    const trailer = reader.readOptional(contextConstructed(3), 'pss');
    if (!reader.empty) return 0;
    const hashAi = parseAlgorithmIdentifier(new DerReader(hash.body).read(TAG.SEQUENCE, 'pss').body);
    const mgfAi = parseAlgorithmIdentifier(new DerReader(mgf.body).read(TAG.SEQUENCE, 'pss').body);
    if (mgfAi.parameters === undefined || mgfAi.parameters.tag !== TAG.SEQUENCE) return 0;
    const mgfHash = parseAlgorithmIdentifier(mgfAi.parameters.body);
    const saltLength = Number(new DerReader(salt.body).readInteger('pss'));
    const trailerField = trailer === undefined ? 1 : Number(new DerReader(trailer.body).readInteger('pss'));
    const nullOrAbsent = (p: Element | undefined): boolean => p === undefined || p.full.equals(NULL_BYTES);
    const hashOid = hashAi.oid.join('.');
    if (!nullOrAbsent(hashAi.parameters) || mgfAi.oid.join('.') !== OID_MGF1 || mgfHash.oid.join('.') !== hashOid) return 0;
    if (!nullOrAbsent(mgfHash.parameters) || trailerField !== 1) return 0;
    if (hashOid === OID_SHA256 && saltLength === 32) return 13;
    if (hashOid === OID_SHA384 && saltLength === 48) return 14;
    if (hashOid === OID_SHA512 && saltLength === 64) return 15;
    return 0;
  } catch {
    return 0;
  }
}

/** pkix.Name filled from an RDNSequence (parseName + FillFromRDNSequence). */
export function parseName(sequence: Element): JsonObject {
  const reader = new DerReader(sequence.body);
  const name = {
    Country: null as string[] | null,
    Organization: null as string[] | null,
    OrganizationalUnit: null as string[] | null,
    Locality: null as string[] | null,
    Province: null as string[] | null,
    StreetAddress: null as string[] | null,
    PostalCode: null as string[] | null,
    SerialNumber: '',
    CommonName: '',
    Names: null as JsonObject[] | null,
    ExtraNames: null,
  };
  const append = (key: 'Country' | 'Organization' | 'OrganizationalUnit' | 'Locality' | 'Province' | 'StreetAddress' | 'PostalCode', value: string): void => {
    (name[key] ??= []).push(value);
  };
  while (!reader.empty) {
    const set = new DerReader(reader.read(TAG.SET, 'x509: invalid RDNSequence').body);
    while (!set.empty) {
      const attribute = new DerReader(set.read(TAG.SEQUENCE, 'x509: invalid RDNSequence: invalid attribute').body);
      const type = attribute.readObjectIdentifier('x509: invalid RDNSequence: invalid attribute type');
      const raw = attribute.readAny('x509: invalid RDNSequence: invalid attribute value');
      const value = parseAsn1String(raw.tag, raw.body);
      (name.Names ??= []).push({ Type: type, Value: value });
      if (type.length === 4 && type[0] === 2 && type[1] === 5 && type[2] === 4) {
        switch (type[3]) {
          case 3: name.CommonName = value; break;
          case 5: name.SerialNumber = value; break;
          case 6: append('Country', value); break;
          case 7: append('Locality', value); break;
          case 8: append('Province', value); break;
          case 9: append('StreetAddress', value); break;
          case 10: append('Organization', value); break;
          case 11: append('OrganizationalUnit', value); break;
          case 17: append('PostalCode', value); break;
        }
      }
    }
  }
  return name;
}

/** parsePublicKey: the Go value encoding/json writes for rsa, ecdsa, ed25519 keys (DSA too); null if unknown. */
export function parsePublicKey(algorithm: number, ai: AlgorithmIdentifier, key: Buffer): unknown {
  switch (algorithm) {
    case 1: {
      if (ai.parameters === undefined || !ai.parameters.full.equals(NULL_BYTES)) fail('x509: RSA key missing NULL parameters');
      const outer = new DerReader(key);
      const sequence = new DerReader(outer.read(TAG.SEQUENCE, 'x509: invalid RSA public key').body);
      const n = sequence.readInteger('x509: invalid RSA modulus');
      const e = sequence.readInteger('x509: invalid RSA public exponent');
      if (n <= 0n) fail('x509: RSA modulus is not a positive number');
      if (e <= 0n || e > BigInt(Number.MAX_SAFE_INTEGER)) fail('x509: RSA public exponent is not a positive number');
      return { N: n, E: Number(e) };
    }
    case 3: {
      if (ai.parameters === undefined) fail('x509: invalid ECDSA parameters');
      const curveOid = objectIdentifierOf(ai.parameters.tag === TAG.OBJECT_IDENTIFIER ? ai.parameters.body : Buffer.alloc(0));
      if (curveOid === undefined) fail('x509: invalid ECDSA parameters');
      const curve = CURVES[curveOid.join('.')];
      if (curve === undefined) fail('x509: unsupported elliptic curve');
      if (key.length !== 1 + 2 * curve.size || key[0] !== 4) fail('ecdsa: invalid public key');
      // OpenSSL checks that the point is on the curve, as ecdsa.ParseUncompressedPublicKey does (convertKey is
      // the cheap way to have it decode the point: a JWK import costs several times more).
      try {
        ECDH.convertKey(key, curve.name, undefined, undefined, 'uncompressed');
      } catch {
        fail('ecdsa: invalid public key');
      }
      const x = BigInt(`0x${key.subarray(1, 1 + curve.size).toString('hex')}`);
      const y = BigInt(`0x${key.subarray(1 + curve.size).toString('hex')}`);
      // elliptic.Curve is a struct of unexported fields: encoding/json writes {}.
      return { Curve: {}, X: x, Y: y };
    }
    case 4:
      if (ai.parameters !== undefined) fail('x509: Ed25519 key encoded with illegal parameters');
      if (key.length !== 32) fail('x509: wrong Ed25519 public key size');
      return key.toString('base64');
    case 2: {
      const y = integerOf(new DerReader(key).read(TAG.INTEGER, 'x509: invalid DSA public key').body) ?? fail('x509: invalid DSA public key');
      if (ai.parameters === undefined || ai.parameters.tag !== TAG.SEQUENCE) fail('x509: invalid DSA parameters');
      const params = new DerReader(ai.parameters.body);
      const p = params.readInteger('x509: invalid DSA parameters');
      const q = params.readInteger('x509: invalid DSA parameters');
      const g = params.readInteger('x509: invalid DSA parameters');
      if (y <= 0n || p <= 0n || q <= 0n || g <= 0n) fail('x509: zero or negative DSA parameter');
      return { P: p, Q: q, G: g, Y: y };
    }
    default:
      return null;
  }
}

function parseTime(reader: DerReader): CertificateTime {
  const tag = reader.peekTag();
  if (tag === TAG.UTCTime) return parseUtcTime(reader.read(TAG.UTCTime, 'x509: malformed UTCTime').body.toString('latin1')) ?? fail('x509: malformed UTCTime');
  if (tag === TAG.GeneralizedTime) {
    return parseGeneralizedTime(reader.read(TAG.GeneralizedTime, 'x509: malformed GeneralizedTime').body.toString('latin1')) ?? fail('x509: malformed GeneralizedTime');
  }
  fail('x509: unsupported time format');
}

interface Extension {
  readonly id: number[];
  readonly critical: boolean;
  readonly value: Buffer;
}

function parseExtension(body: Buffer): Extension {
  const reader = new DerReader(body);
  const id = reader.readObjectIdentifier('x509: malformed extension OID field');
  let critical = false;
  if (reader.peekTag() === TAG.BOOLEAN) critical = reader.readBoolean('x509: malformed extension critical field');
  const value = reader.read(TAG.OCTET_STRING, 'x509: malformed extension value field').body;
  return { id, critical, value };
}

function isIa5(text: string): boolean {
  return [...text].every((c) => c.charCodeAt(0) <= 0x7f);
}

/** parser.go's domainNameValid (the checks Go 1.26 enforces). */
export function domainNameValid(text: string, constraint: boolean): boolean {
  if (text.length === 0) return true;
  if (text.endsWith('.')) return false;
  const s = constraint && text.startsWith('.') ? text.slice(1) : text;
  let lastDot = -1;
  for (let i = 0; i <= s.length; i++) {
    const code = i < s.length ? s.charCodeAt(i) : 0;
    if (i < s.length && (code < 33 || code > 126)) return false;
    if (i === s.length || s[i] === '.') {
      const labelLength = lastDot >= 0 ? i - lastDot - 1 : i;
      if (labelLength === 0) return false;
      lastDot = i;
    }
  }
  return true;
}

/** The *url.URL encoding/json writes (User is a pointer to unexported fields: null, or {} when present). */
export function urlJson(text: string): JsonObject {
  let url;
  try {
    url = parseUrl(text);
  } catch (error) {
    fail(`x509: cannot parse URI ${JSON.stringify(text)}: ${(error as Error).message}`);
  }
  if (url.host.length > 0 && !domainNameValid(url.host, false)) fail(`x509: cannot parse URI ${JSON.stringify(text)}: invalid domain`);
  const beforeFragment = text.split('#')[0]!;
  const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(beforeFragment)?.[1];
  return {
    Scheme: url.scheme,
    Opaque: url.opaque,
    User: authority?.includes('@') === true ? {} : null,
    Host: url.host,
    Path: url.path,
    RawPath: url.rawPath,
    OmitHost: authority === '' && url.host === '' && !beforeFragment.includes('@'),
    ForceQuery: beforeFragment.endsWith('?') && url.rawQuery === '',
    RawQuery: url.rawQuery,
    Fragment: url.fragment,
    RawFragment: '',
  };
}

function isValidIpMask(mask: Buffer): boolean {
  let seenZero = false;
  for (const byte of mask) {
    if (seenZero) {
      if (byte !== 0) return false;
      continue;
    }
    if ([0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe].includes(byte)) seenZero = true;
    else if (byte !== 0xff) return false;
  }
  return true;
}

export interface Subtrees {
  dns: string[] | null;
  ips: JsonObject[] | null;
  /** The IP ranges as bytes: address and mask, each 4 or 16 bytes. */
  ipRanges: Array<{ ip: Buffer; mask: Buffer }>;
  emails: string[] | null;
  uris: string[] | null;
  unhandled: boolean;
}

function parseSubtrees(body: Buffer | undefined): Subtrees {
  const out: Subtrees = { dns: null, ips: null, ipRanges: [], emails: null, uris: null, unhandled: false };
  if (body === undefined) return out;
  const reader = new DerReader(body);
  while (!reader.empty) {
    const sequence = new DerReader(reader.read(TAG.SEQUENCE, 'x509: invalid NameConstraints extension').body);
    const { tag, body: value } = sequence.readAny('x509: invalid NameConstraints extension');
    const text = value.toString('latin1');
    switch (tag) {
      case contextTag(2):
        if (!isIa5(text)) fail('x509: invalid constraint value');
        if (!domainNameValid(text, true)) fail(`x509: failed to parse dnsName constraint ${JSON.stringify(text)}`);
        (out.dns ??= []).push(text);
        break;
      case contextTag(7): {
        if (value.length !== 8 && value.length !== 32) fail(`x509: IP constraint contained value of length ${value.length}`);
        const half = value.length / 2;
        const mask = value.subarray(half);
        if (!isValidIpMask(mask)) fail('x509: IP constraint contained invalid mask');
        (out.ips ??= []).push({ IP: formatIp(value.subarray(0, half)), Mask: mask.toString('base64') });
        out.ipRanges.push({ ip: Buffer.from(value.subarray(0, half)), mask: Buffer.from(mask) });
        break;
      }
      case contextTag(1):
        if (!isIa5(text)) fail('x509: invalid constraint value');
        if (text.includes('@') ? parseMailbox(text) === undefined : !domainNameValid(text, true)) {
          fail(`x509: failed to parse rfc822Name constraint ${JSON.stringify(text)}`);
        }
        (out.emails ??= []).push(text);
        break;
      case contextTag(6):
        if (!isIa5(text)) fail('x509: invalid constraint value');
        if (isIP(text) !== 0) fail(`x509: failed to parse URI constraint ${JSON.stringify(text)}: cannot be IP address`);
        if (!domainNameValid(text, true)) fail(`x509: failed to parse URI constraint ${JSON.stringify(text)}`);
        (out.uris ??= []).push(text);
        break;
      default:
        out.unhandled = true;
    }
  }
  return out;
}

/** x509.OID.String for the DER of an OID of any arc size (newOIDFromDER: minimal base-128). */
function oidText(body: Buffer): string {
  const arcs = base128Arcs(body);
  if (arcs === undefined || arcs.length === 0) fail('x509: invalid certificate policies');
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** OID.toASN1OID: every arc must fit a Go int (64-bit); arcs beyond 2^53 stay bigint for exact JSON. */
function asn1OidOf(text: string): Array<number | bigint> | undefined {
  const arcs = text.split('.').map(BigInt);
  if (arcs.some((arc) => arc >= 1n << 63n)) return undefined;
  return arcs.map((arc) => (arc <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(arc) : arc));
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  const input = new DerReader(der);
  const certificate = input.read(TAG.SEQUENCE, 'x509: malformed certificate');
  const outer = new DerReader(certificate.body);
  const tbsElement = outer.read(TAG.SEQUENCE, 'x509: malformed tbs certificate');
  const tbs = new DerReader(tbsElement.body);

  let version = 0;
  const versionElement = tbs.readOptional(contextConstructed(0), 'x509: malformed version');
  if (versionElement !== undefined) {
    const value = new DerReader(versionElement.body).readInteger('x509: malformed version');
    if (value < 0n || value > 0x7fffffffn) fail('x509: malformed version');
    version = Number(value);
  }
  version++;
  if (version > 3) fail('x509: invalid version');

  const serial = tbs.readInteger('x509: malformed serial number');
  if (serial < 0n) fail('x509: negative serial number');

  const innerAi = tbs.read(TAG.SEQUENCE, 'x509: malformed signature algorithm identifier');
  const outerAi = outer.read(TAG.SEQUENCE, 'x509: malformed algorithm identifier');
  if (!innerAi.body.equals(outerAi.body)) fail("x509: inner and outer signature algorithm identifiers don't match");
  const signatureAlgorithm = signatureAlgorithmOf(parseAlgorithmIdentifier(innerAi.body));

  const issuerElement = tbs.read(TAG.SEQUENCE, 'x509: malformed issuer');
  const issuer = parseName(issuerElement);
  const validity = new DerReader(tbs.read(TAG.SEQUENCE, 'x509: malformed validity').body);
  const notBefore = parseTime(validity);
  const notAfter = parseTime(validity);
  const subjectElement = tbs.read(TAG.SEQUENCE, 'x509: malformed issuer');
  const subject = parseName(subjectElement);

  const spkiElement = tbs.read(TAG.SEQUENCE, 'x509: malformed spki');
  const spki = new DerReader(spkiElement.body);
  const keyAi = parseAlgorithmIdentifier(spki.read(TAG.SEQUENCE, 'x509: malformed public key algorithm identifier').body);
  const publicKeyAlgorithm = PUBLIC_KEY_ALGORITHMS[keyAi.oid.join('.')] ?? 0;
  const keyBits = spki.readBitString('x509: malformed subjectPublicKey');
  const publicKey = publicKeyAlgorithm === 0 ? null : parsePublicKey(publicKeyAlgorithm, keyAi, rightAlign(keyBits));

  const extensions: Extension[] = [];
  if (version > 1) {
    tbs.readOptional(contextTag(1), 'x509: malformed issuerUniqueID');
    tbs.readOptional(contextTag(2), 'x509: malformed subjectUniqueID');
    if (version === 3) {
      const wrapped = tbs.readOptional(contextConstructed(3), 'x509: malformed extensions');
      if (wrapped !== undefined) {
        const list = new DerReader(new DerReader(wrapped.body).read(TAG.SEQUENCE, 'x509: malformed extensions').body);
        const seen = new Set<string>();
        while (!list.empty) {
          const extension = parseExtension(list.read(TAG.SEQUENCE, 'x509: malformed extension').body);
          const id = extension.id.join('.');
          if (seen.has(id)) fail(`x509: certificate contains duplicate extension with OID "${id}"`);
          seen.add(id);
          extensions.push(extension);
        }
      }
    }
  }
  const signatureBits = outer.readBitString('x509: malformed signature');
  const signature = rightAlign(signatureBits);

  const parsed = processExtensions(extensions);
  const raw = certificate.full;
  const json: JsonObject = {
    Raw: raw.toString('base64'),
    RawTBSCertificate: tbsElement.full.toString('base64'),
    RawSubjectPublicKeyInfo: spkiElement.full.toString('base64'),
    RawSubject: subjectElement.full.toString('base64'),
    RawIssuer: issuerElement.full.toString('base64'),
    Signature: signature.toString('base64'),
    SignatureAlgorithm: signatureAlgorithm,
    PublicKeyAlgorithm: publicKeyAlgorithm,
    PublicKey: publicKey,
    Version: version,
    SerialNumber: serial,
    Issuer: issuer,
    Subject: subject,
    NotBefore: formatGoTime(notBefore),
    NotAfter: formatGoTime(notAfter),
    KeyUsage: parsed.keyUsage,
    Extensions: extensions.length === 0 ? null : extensions.map((e) => ({ Id: e.id, Critical: e.critical, Value: e.value.toString('base64') })),
    ExtraExtensions: null,
    UnhandledCriticalExtensions: parsed.unhandledCritical,
    ExtKeyUsage: parsed.extKeyUsage,
    UnknownExtKeyUsage: parsed.unknownExtKeyUsage,
    BasicConstraintsValid: parsed.basicConstraintsValid,
    IsCA: parsed.isCA,
    MaxPathLen: parsed.maxPathLen,
    MaxPathLenZero: parsed.maxPathLenZero,
    SubjectKeyId: b64(parsed.subjectKeyId),
    AuthorityKeyId: b64(parsed.authorityKeyId),
    OCSPServer: parsed.ocspServer,
    IssuingCertificateURL: parsed.issuingCertificateUrl,
    DNSNames: parsed.dnsNames,
    EmailAddresses: parsed.emailAddresses,
    IPAddresses: parsed.ipAddresses,
    URIs: parsed.uris === null ? null : parsed.uris.map(urlJson),
    PermittedDNSDomainsCritical: parsed.permittedDnsDomainsCritical,
    PermittedDNSDomains: parsed.permitted.dns,
    ExcludedDNSDomains: parsed.excluded.dns,
    PermittedIPRanges: parsed.permitted.ips,
    ExcludedIPRanges: parsed.excluded.ips,
    PermittedEmailAddresses: parsed.permitted.emails,
    ExcludedEmailAddresses: parsed.excluded.emails,
    PermittedURIDomains: parsed.permitted.uris,
    ExcludedURIDomains: parsed.excluded.uris,
    CRLDistributionPoints: parsed.crlDistributionPoints,
    PolicyIdentifiers: parsed.policies === null ? null : parsed.policies.map(asn1OidOf).filter((oid) => oid !== undefined),
    Policies: parsed.policies,
    InhibitAnyPolicy: parsed.inhibitAnyPolicy,
    InhibitAnyPolicyZero: parsed.inhibitAnyPolicyZero,
    InhibitPolicyMapping: parsed.inhibitPolicyMapping,
    InhibitPolicyMappingZero: parsed.inhibitPolicyMappingZero,
    RequireExplicitPolicy: parsed.requireExplicitPolicy,
    RequireExplicitPolicyZero: parsed.requireExplicitPolicyZero,
    PolicyMappings: parsed.policyMappings,
    // OPA's extendedCert adds the URIs as strings: url.URL.String of a parsed SAN gives the SAN back, its
    // scheme lower-cased (url.Parse keeps escapes in RawPath and the rest as written).
    URIStrings: parsed.uris === null ? null : parsed.uris.map((uri) => uri.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:/, (scheme) => scheme.toLowerCase())),
  };
  return {
    json,
    raw,
    rawTbs: tbsElement.full,
    rawSubject: subjectElement.full,
    rawIssuer: issuerElement.full,
    rawSpki: spkiElement.full,
    signature,
    signatureAlgorithm,
    publicKeyAlgorithm,
    notBefore,
    notAfter,
    keyUsage: parsed.keyUsage,
    extKeyUsage: parsed.extKeyUsage ?? [],
    unknownExtKeyUsage: parsed.unknownExtKeyUsage ?? [],
    basicConstraintsValid: parsed.basicConstraintsValid,
    isCA: parsed.isCA,
    maxPathLen: parsed.maxPathLen,
    subjectKeyId: parsed.subjectKeyId,
    authorityKeyId: parsed.authorityKeyId,
    dnsNames: parsed.dnsNames ?? [],
    unhandledCriticalExtensions: parsed.unhandledCritical ?? [],
    hasNameConstraints: parsed.hasNameConstraints,
    nameConstraints: { permitted: parsed.permitted, excluded: parsed.excluded },
    subjectAltNames: {
      present: extensions.some((extension) => extension.id.join('.') === '2.5.29.17'),
      emails: parsed.emailAddresses ?? [],
      ips: parsed.ipBytes ?? [],
      uris: parsed.uris ?? [],
    },
  };
}

interface ProcessedExtensions {
  keyUsage: number;
  basicConstraintsValid: boolean;
  isCA: boolean;
  maxPathLen: number;
  maxPathLenZero: boolean;
  dnsNames: string[] | null;
  emailAddresses: string[] | null;
  ipAddresses: string[] | null;
  ipBytes: Buffer[] | null;
  uris: string[] | null;
  permitted: Subtrees;
  excluded: Subtrees;
  permittedDnsDomainsCritical: boolean;
  hasNameConstraints: boolean;
  crlDistributionPoints: string[] | null;
  authorityKeyId: Buffer | null;
  subjectKeyId: Buffer | null;
  extKeyUsage: number[] | null;
  unknownExtKeyUsage: number[][] | null;
  policies: string[] | null;
  policyMappings: JsonObject[] | null;
  inhibitAnyPolicy: number;
  inhibitAnyPolicyZero: boolean;
  inhibitPolicyMapping: number;
  inhibitPolicyMappingZero: boolean;
  requireExplicitPolicy: number;
  requireExplicitPolicyZero: boolean;
  hasPolicyConstraintsExtension: boolean;
  ocspServer: string[] | null;
  issuingCertificateUrl: string[] | null;
  unhandledCritical: number[][] | null;
}

const OID_AUTHORITY_INFO_ACCESS = [1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_OCSP = [1, 3, 6, 1, 5, 5, 7, 48, 1];
const OID_CA_ISSUERS = [1, 3, 6, 1, 5, 5, 7, 48, 2];

/** Context-specific small INTEGER as ReadASN1Int64WithTag reads it. */
function smallInteger(element: Element, message: string): number {
  const value = integerOf(element.body) ?? fail(message);
  if (value < -(1n << 63n) || value >= 1n << 63n) fail(message);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) fail(message);
  return Number(value);
}

function processExtensions(extensions: Extension[]): ProcessedExtensions {
  const out: ProcessedExtensions = {
    keyUsage: 0,
    basicConstraintsValid: false,
    isCA: false,
    maxPathLen: 0,
    maxPathLenZero: false,
    dnsNames: null,
    emailAddresses: null,
    ipAddresses: null,
    ipBytes: null,
    uris: null,
    permitted: { dns: null, ips: null, ipRanges: [], emails: null, uris: null, unhandled: false },
    excluded: { dns: null, ips: null, ipRanges: [], emails: null, uris: null, unhandled: false },
    permittedDnsDomainsCritical: false,
    hasNameConstraints: false,
    crlDistributionPoints: null,
    authorityKeyId: null,
    subjectKeyId: null,
    extKeyUsage: null,
    unknownExtKeyUsage: null,
    policies: null,
    policyMappings: null,
    inhibitAnyPolicy: 0,
    inhibitAnyPolicyZero: false,
    inhibitPolicyMapping: 0,
    inhibitPolicyMappingZero: false,
    requireExplicitPolicy: 0,
    requireExplicitPolicyZero: false,
    hasPolicyConstraintsExtension: false,
    ocspServer: null,
    issuingCertificateUrl: null,
    unhandledCritical: null,
  };
  for (const extension of extensions) {
    let unhandled = false;
    const { id, value } = extension;
    if (id.length === 4 && id[0] === 2 && id[1] === 5 && id[2] === 29) {
      switch (id[3]) {
        case 15: {
          const bits = new DerReader(value).readBitString('x509: invalid key usage');
          let usage = 0;
          for (let i = 0; i < 9; i++) if (bitAt(bits, i) !== 0) usage |= 1 << i;
          out.keyUsage = usage;
          break;
        }
        case 19: {
          const sequence = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid basic constraints').body);
          let isCA = false;
          if (sequence.peekTag() === TAG.BOOLEAN) isCA = sequence.readBoolean('x509: invalid basic constraints');
          let maxPathLen = -1;
          if (sequence.peekTag() === TAG.INTEGER) {
            const length = integerOf(sequence.read(TAG.INTEGER, 'x509: invalid basic constraints').body, false);
            if (length === undefined || length > BigInt(Number.MAX_SAFE_INTEGER)) fail('x509: invalid basic constraints');
            maxPathLen = Number(length);
          }
          out.isCA = isCA;
          out.maxPathLen = maxPathLen;
          out.basicConstraintsValid = true;
          out.maxPathLenZero = maxPathLen === 0;
          break;
        }
        case 17:
          parseSubjectAltNames(value, out);
          if (out.dnsNames === null && out.emailAddresses === null && out.ipAddresses === null && out.uris === null) unhandled = true;
          break;
        case 30: {
          const outerReader = new DerReader(value);
          const top = outerReader.read(TAG.SEQUENCE, 'x509: invalid NameConstraints extension');
          if (!outerReader.empty) fail('x509: invalid NameConstraints extension');
          const topReader = new DerReader(top.body);
          const permitted = topReader.readOptional(contextConstructed(0), 'x509: invalid NameConstraints extension');
          const excluded = topReader.readOptional(contextConstructed(1), 'x509: invalid NameConstraints extension');
          if (!topReader.empty) fail('x509: invalid NameConstraints extension');
          if ((permitted === undefined && excluded === undefined) || ((permitted?.body.length ?? 0) === 0 && (excluded?.body.length ?? 0) === 0)) {
            fail('x509: empty name constraints extension');
          }
          out.permitted = parseSubtrees(permitted?.body);
          out.excluded = parseSubtrees(excluded?.body);
          out.permittedDnsDomainsCritical = extension.critical;
          out.hasNameConstraints = true;
          unhandled = out.permitted.unhandled || out.excluded.unhandled;
          break;
        }
        case 31: {
          const list = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid CRL distribution points').body);
          while (!list.empty) {
            const point = new DerReader(list.read(TAG.SEQUENCE, 'x509: invalid CRL distribution point').body);
            const name = point.readOptional(contextConstructed(0), 'x509: invalid CRL distribution point');
            if (name === undefined) continue;
            const full = new DerReader(new DerReader(name.body).read(contextConstructed(0), 'x509: invalid CRL distribution point').body);
            while (!full.empty && full.peekTag() === contextTag(6)) {
              (out.crlDistributionPoints ??= []).push(full.read(contextTag(6), 'x509: invalid CRL distribution point').body.toString('latin1'));
            }
          }
          break;
        }
        case 35: {
          if (extension.critical) fail('x509: authority key identifier incorrectly marked critical');
          const akid = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid authority key identifier').body);
          if (akid.peekTag() === contextTag(0)) out.authorityKeyId = Buffer.from(akid.read(contextTag(0), 'x509: invalid authority key identifier').body);
          break;
        }
        case 36: {
          const sequence = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid policy constraints extension').body);
          if (sequence.peekTag() === contextTag(0)) {
            out.requireExplicitPolicy = smallInteger(sequence.read(contextTag(0), 'x509: invalid policy constraints extension'), 'x509: invalid policy constraints extension');
            out.requireExplicitPolicyZero = out.requireExplicitPolicy === 0;
          }
          if (sequence.peekTag() === contextTag(1)) {
            out.inhibitPolicyMapping = smallInteger(sequence.read(contextTag(1), 'x509: invalid policy constraints extension'), 'x509: invalid policy constraints extension');
            out.inhibitPolicyMappingZero = out.inhibitPolicyMapping === 0;
          }
          out.hasPolicyConstraintsExtension = true;
          break;
        }
        case 37: {
          const list = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid extended key usages').body);
          while (!list.empty) {
            const usage = list.readObjectIdentifier('x509: invalid extended key usages');
            const known = EXT_KEY_USAGES.find(([oid]) => oid === usage.join('.'));
            if (known !== undefined) (out.extKeyUsage ??= []).push(known[1]);
            else (out.unknownExtKeyUsage ??= []).push(usage);
          }
          break;
        }
        case 14: {
          if (extension.critical) fail('x509: subject key identifier incorrectly marked critical');
          out.subjectKeyId = Buffer.from(new DerReader(value).read(TAG.OCTET_STRING, 'x509: invalid subject key identifier').body);
          break;
        }
        case 32: {
          const list = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid certificate policies').body);
          const seen = new Set<string>();
          out.policies = [];
          while (!list.empty) {
            const policy = new DerReader(list.read(TAG.SEQUENCE, 'x509: invalid certificate policies').body);
            const oid = policy.read(TAG.OBJECT_IDENTIFIER, 'x509: invalid certificate policies').body;
            const key = oid.toString('hex');
            if (seen.has(key)) fail('x509: invalid certificate policies');
            seen.add(key);
            out.policies.push(oidText(oid));
          }
          if (out.policies.length === 0) out.policies = null;
          break;
        }
        case 33: {
          const list = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid policy mappings extension').body);
          while (!list.empty) {
            const mapping = new DerReader(list.read(TAG.SEQUENCE, 'x509: invalid policy mappings extension').body);
            const issuerPolicy = mapping.read(TAG.OBJECT_IDENTIFIER, 'x509: invalid policy mappings extension').body;
            const subjectPolicy = mapping.read(TAG.OBJECT_IDENTIFIER, 'x509: invalid policy mappings extension').body;
            (out.policyMappings ??= []).push({ IssuerDomainPolicy: oidText(issuerPolicy), SubjectDomainPolicy: oidText(subjectPolicy) });
          }
          break;
        }
        case 54: {
          const value54 = new DerReader(value).readInteger('x509: invalid inhibit any policy extension');
          if (value54 > BigInt(Number.MAX_SAFE_INTEGER) || value54 < -BigInt(Number.MAX_SAFE_INTEGER)) fail('x509: invalid inhibit any policy extension');
          out.inhibitAnyPolicy = Number(value54);
          out.inhibitAnyPolicyZero = out.inhibitAnyPolicy === 0;
          break;
        }
        default:
          unhandled = true;
      }
    } else if (oidEquals(id, OID_AUTHORITY_INFO_ACCESS)) {
      if (extension.critical) fail('x509: authority info access incorrectly marked critical');
      const list = new DerReader(new DerReader(value).read(TAG.SEQUENCE, 'x509: invalid authority info access').body);
      while (!list.empty) {
        const access = new DerReader(list.read(TAG.SEQUENCE, 'x509: invalid authority info access').body);
        const method = access.readObjectIdentifier('x509: invalid authority info access');
        if (access.peekTag() !== contextTag(6)) continue;
        const location = access.read(contextTag(6), 'x509: invalid authority info access').body.toString('latin1');
        if (oidEquals(method, OID_OCSP)) (out.ocspServer ??= []).push(location);
        else if (oidEquals(method, OID_CA_ISSUERS)) (out.issuingCertificateUrl ??= []).push(location);
      }
    } else {
      unhandled = true;
    }
    if (extension.critical && unhandled) (out.unhandledCritical ??= []).push(id);
  }
  return out;
}

export interface SubjectAltNames {
  dnsNames: string[] | null;
  emailAddresses: string[] | null;
  ipAddresses: string[] | null;
  uris: string[] | null;
  /** The IP addresses' bytes (4 or 16), in the same order. */
  ipBytes?: Buffer[] | null;
}

/** parseSANExtension: the names go into out, nil lists staying null. */
export function parseSubjectAltNames(value: Buffer, out: SubjectAltNames): void {
  const outer = new DerReader(value);
  const names = new DerReader(outer.read(TAG.SEQUENCE, 'x509: invalid subject alternative names').body);
  while (!names.empty) {
    const { tag, body } = names.readAny('x509: invalid subject alternative name');
    const text = body.toString('latin1');
    switch (tag ^ 0x80) {
      case 1:
        if (!isIa5(text)) fail('x509: SAN rfc822Name is malformed');
        (out.emailAddresses ??= []).push(text);
        break;
      case 2:
        if (!isIa5(text)) fail('x509: SAN dNSName is malformed');
        (out.dnsNames ??= []).push(text);
        break;
      case 6:
        if (!isIa5(text)) fail('x509: SAN uniformResourceIdentifier is malformed');
        urlJson(text); // validates as url.Parse and domainNameValid do
        (out.uris ??= []).push(text);
        break;
      case 7:
        if (body.length !== 4 && body.length !== 16) fail(`x509: cannot parse IP address of length ${body.length}`);
        (out.ipAddresses ??= []).push(formatIp(body));
        (out.ipBytes ??= []).push(Buffer.from(body));
        break;
    }
  }
}
