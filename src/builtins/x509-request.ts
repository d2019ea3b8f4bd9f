// Go's x509.ParseCertificateRequest (encoding/asn1 based, unlike certificates), as encoding/json writes it.
import { fail, type JsonObject } from './builtin.js';
import { DerReader, TAG, contextConstructed, integerOf, objectIdentifierOf, rightAlign, type Element } from './der.js';
import {
  PUBLIC_KEY_ALGORITHMS,
  parseAlgorithmIdentifier,
  parsePublicKey,
  parseSubjectAltNames,
  signatureAlgorithmOf,
  urlJson,
  type SubjectAltNames,
} from './x509-certificate.js';
import { formatGoTime, parseGeneralizedTime, parseUtcTime } from './x509-time.js';
import { parseAsn1String } from './x509-values.js';

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/**
 * encoding/asn1's decoding into `any`: universal primitive types become Go values (bool, int64, string,
 * []byte, OID, BitString, time), anything else stays nil. An undecodable value is an error, as in Go.
 */
function anyValue(element: Element): unknown {
  const constructed = (element.tag & 0x20) !== 0;
  const universal = (element.tag & 0xc0) === 0;
  if (constructed || !universal) return null;
  const body = element.body;
  switch (element.tag) {
    case TAG.BOOLEAN:
      if (body.length !== 1 || (body[0] !== 0 && body[0] !== 0xff)) fail('asn1: invalid boolean');
      return body[0] === 0xff;
    case TAG.INTEGER: {
      const value = integerOf(body) ?? fail('asn1: invalid integer');
      if (value < INT64_MIN || value > INT64_MAX) fail('asn1: integer too large');
      return Number.isSafeInteger(Number(value)) ? Number(value) : value;
    }
    case TAG.BIT_STRING: {
      if (body.length === 0 || body[0]! > 7 || (body.length === 1 && body[0]! > 0)) fail('asn1: invalid bit string');
      return { Bytes: body.subarray(1).toString('base64'), BitLength: (body.length - 1) * 8 - body[0]! };
    }
    case TAG.OBJECT_IDENTIFIER:
      return objectIdentifierOf(body) ?? fail('asn1: invalid object identifier');
    case TAG.UTCTime: {
      const time = parseUtcTime(body.toString('latin1')) ?? fail('asn1: invalid UTCTime');
      return formatGoTime(time);
    }
    case TAG.GeneralizedTime: {
      const time = parseGeneralizedTime(body.toString('latin1'), true) ?? fail('asn1: invalid GeneralizedTime');
      return formatGoTime(time);
    }
    case TAG.OCTET_STRING:
      return body.toString('base64');
    case TAG.PrintableString:
    case TAG.NumericString:
    case TAG.IA5String:
    case TAG.T61String:
    case TAG.UTF8String:
    case TAG.BMPString:
      return parseAsn1String(element.tag, body);
    default:
      return null;
  }
}

/** An AttributeTypeAndValue SEQUENCE {OID, any}; encoding/asn1 ignores elements after the struct's fields. */
function attributeTypeAndValue(element: Element): { Type: number[]; Value: unknown } {
  if (element.tag !== TAG.SEQUENCE) fail('asn1: structure error');
  const reader = new DerReader(element.body);
  const type = reader.readObjectIdentifier('asn1: invalid object identifier');
  const value = anyValue(reader.readAny('asn1: sequence truncated'));
  return { Type: type, Value: value };
}

/** pkix.Name from the subject RDNSequence decoded by encoding/asn1 (values of any type, strings filled in). */
function requestName(subject: Element): JsonObject {
  const name: Record<string, unknown> = {
    Country: null, Organization: null, OrganizationalUnit: null, Locality: null, Province: null,
    StreetAddress: null, PostalCode: null, SerialNumber: '', CommonName: '', Names: null, ExtraNames: null,
  };
  const fields: Readonly<Record<number, string>> = {
    6: 'Country', 7: 'Locality', 8: 'Province', 9: 'StreetAddress', 10: 'Organization', 11: 'OrganizationalUnit', 17: 'PostalCode',
  };
  const reader = new DerReader(subject.body);
  while (!reader.empty) {
    const set = new DerReader(reader.read(TAG.SET, 'asn1: structure error').body);
    while (!set.empty) {
      const attribute = attributeTypeAndValue(set.readAny('asn1: structure error'));
      ((name.Names ??= []) as unknown[]).push(attribute);
      const { Type: type, Value: value } = attribute;
      if (typeof value !== 'string' || type.length !== 4 || type[0] !== 2 || type[1] !== 5 || type[2] !== 4) continue;
      if (type[3] === 3) name.CommonName = value;
      else if (type[3] === 5) name.SerialNumber = value;
      else if (fields[type[3]!] !== undefined) ((name[fields[type[3]!]!] ??= []) as string[]).push(value);
    }
  }
  return name;
}

/** parseRawAttributes: attributes that decode as AttributeTypeAndValueSET; the others (challengePassword) left out. */
function attributeSet(raw: Element): JsonObject | undefined {
  try {
    if (raw.tag !== TAG.SEQUENCE) return undefined;
    const reader = new DerReader(raw.body);
    const type = reader.readObjectIdentifier('asn1');
    const set = new DerReader(reader.read(TAG.SET, 'asn1').body);
    const values: unknown[] = [];
    while (!set.empty) {
      const sequence = set.readAny('asn1');
      if (sequence.tag !== TAG.SEQUENCE) return undefined;
      const inner = new DerReader(sequence.body);
      const list: unknown[] = [];
      while (!inner.empty) list.push(attributeTypeAndValue(inner.readAny('asn1')));
      values.push(list);
    }
    if (!reader.empty) return undefined;
    return { Type: type, Value: values };
  } catch {
    return undefined;
  }
}

/** parseCSRExtensions: the extensionRequest attributes' extensions, each OID once. */
function requestedExtensions(rawAttributes: Element[]): JsonObject[] | null {
  let extensions: JsonObject[] | null = null;
  const seen = new Set<string>();
  for (const raw of rawAttributes) {
    let type: number[];
    let first: Element | undefined;
    try {
      const reader = new DerReader(raw.body);
      type = reader.readObjectIdentifier('asn1');
      const values = new DerReader(reader.read(TAG.SET, 'asn1').body);
      first = values.tryReadAny();
      if (!reader.empty) continue;
    } catch {
      continue;
    }
    if (first === undefined || type.join('.') !== OID_EXTENSION_REQUEST) continue;
    if (first.tag !== TAG.SEQUENCE) fail('asn1: structure error');
    const list = new DerReader(first.body);
    const parsed: JsonObject[] = [];
    while (!list.empty) {
      const extension = new DerReader(list.read(TAG.SEQUENCE, 'asn1: structure error').body);
      const id = extension.readObjectIdentifier('asn1: invalid object identifier');
      const critical = extension.peekTag() === TAG.BOOLEAN ? extension.readBoolean('asn1: invalid boolean') : false;
      const value = extension.read(TAG.OCTET_STRING, 'asn1: structure error').body;
      parsed.push({ Id: id, Critical: critical, Value: value.toString('base64') });
    }
    for (const extension of parsed) {
      const key = (extension.Id as number[]).join('.');
      if (seen.has(key)) fail('x509: certificate request contains duplicate requested extensions');
      seen.add(key);
    }
    extensions = [...(extensions ?? []), ...parsed];
  }
  return extensions;
}

/** ParseCertificateRequest: one DER CSR, nothing after it. */
export function parseCertificateRequest(der: Buffer): JsonObject {
  const input = new DerReader(der);
  const request = input.read(TAG.SEQUENCE, 'asn1: structure error');
  if (!input.empty) fail('asn1: syntax error: trailing data');
  const outer = new DerReader(request.body);
  const tbsElement = outer.read(TAG.SEQUENCE, 'asn1: structure error');
  const signatureAi = parseAlgorithmIdentifier(outer.read(TAG.SEQUENCE, 'asn1: structure error').body);
  const signature = rightAlign(outer.readBitString('asn1: structure error'));

  const tbs = new DerReader(tbsElement.body);
  const version = tbs.readInteger('asn1: structure error');
  if (version < INT64_MIN || version > INT64_MAX || !Number.isSafeInteger(Number(version))) fail('asn1: integer too large');
  const subject = tbs.read(TAG.SEQUENCE, 'asn1: structure error');
  const spkiElement = tbs.read(TAG.SEQUENCE, 'asn1: structure error');
  const attributesElement = tbs.read(contextConstructed(0), 'asn1: structure error');
  const rawAttributes: Element[] = [];
  const attributeReader = new DerReader(attributesElement.body);
  while (!attributeReader.empty) rawAttributes.push(attributeReader.readAny('asn1: structure error'));

  const spki = new DerReader(spkiElement.body);
  const keyAi = parseAlgorithmIdentifier(spki.read(TAG.SEQUENCE, 'asn1: structure error').body);
  const keyBits = spki.readBitString('asn1: structure error');
  const publicKeyAlgorithm = PUBLIC_KEY_ALGORITHMS[keyAi.oid.join('.')] ?? 0;
  const publicKey = publicKeyAlgorithm === 0 ? null : parsePublicKey(publicKeyAlgorithm, keyAi, rightAlign(keyBits));

  const attributes = rawAttributes.map(attributeSet).filter((attribute) => attribute !== undefined);
  const extensions = requestedExtensions(rawAttributes);
  const names: SubjectAltNames = { dnsNames: null, emailAddresses: null, ipAddresses: null, uris: null };
  for (const extension of extensions ?? []) {
    if ((extension.Id as number[]).join('.') === OID_SUBJECT_ALT_NAME) parseSubjectAltNames(Buffer.from(extension.Value as string, 'base64'), names);
  }
  return {
    Raw: request.full.toString('base64'),
    RawTBSCertificateRequest: tbsElement.full.toString('base64'),
    RawSubjectPublicKeyInfo: spkiElement.full.toString('base64'),
    RawSubject: subject.full.toString('base64'),
    Version: Number(version),
    Signature: signature.toString('base64'),
    SignatureAlgorithm: signatureAlgorithmOf(signatureAi),
    PublicKeyAlgorithm: publicKeyAlgorithm,
    PublicKey: publicKey,
    Subject: requestName(subject),
    Attributes: attributes.length === 0 ? null : attributes,
    Extensions: extensions,
    ExtraExtensions: null,
    DNSNames: names.dnsNames,
    EmailAddresses: names.emailAddresses,
    IPAddresses: names.ipAddresses,
    URIs: names.uris === null ? null : names.uris.map(urlJson),
  };
}
