// crypto.x509.*: certificates parsed as Go's crypto/x509 parses them, returned as OPA 1.19.1 returns them.
import { createPrivateKey } from 'node:crypto';
import { BuiltinError, fail, isObject, stringArg, type BuiltinTable, type Evaluation, type JsonObject } from './builtin.js';
import { decodeBase64Strict } from './encoding.js';
import { decodePem } from './pem.js';
import { EXT_KEY_USAGES, parseCertificates, type ParsedCertificate } from './x509-certificate.js';
import { parseKeyPair, privateKeysFromPem } from './x509-keys.js';
import { parseCertificateRequest } from './x509-request.js';
import { verifyCertificateChain, type VerifyOptions } from './x509-verify.js';

const BLOCK = /-----BEGIN (RSA PRIVATE KEY|PRIVATE KEY|EC PRIVATE KEY)-----\r?\n[\s\S]*?-----END \1-----/;

/** OPA's getX509CertsFromPem: the CERTIFICATE blocks' DER back to back; another block type is an error. */
function certificatesFromPem(text: string): ParsedCertificate[] {
  const ders: Buffer[] = [];
  let rest = text;
  while (rest.length > 0) {
    const decoded = decodePem(rest);
    if (decoded === undefined) break;
    if (decoded.block.type !== 'CERTIFICATE') fail(`PEM block type is '${decoded.block.type}', expected CERTIFICATE`);
    ders.push(decoded.block.bytes);
    rest = decoded.rest;
  }
  return parseCertificates(Buffer.concat(ders));
}

/** OPA's getX509CertsFromString: PEM, else base64 of PEM, else base64 of DER. */
export function certificatesFromString(text: string): ParsedCertificate[] {
  if (text.startsWith('-----BEGIN')) return certificatesFromPem(text);
  const bytes = decodeBase64Strict(text, false);
  if (bytes.subarray(0, 10).toString('latin1') === '-----BEGIN') return certificatesFromPem(bytes.toString('latin1'));
  return parseCertificates(bytes);
}

/** The certificates, or undefined when they cannot be parsed (OPA then answers [false, []], not an error). */
function tryCertificatesFromString(text: string): ParsedCertificate[] | undefined {
  try {
    return certificatesFromString(text);
  } catch (error) {
    if (error instanceof BuiltinError) return undefined;
    throw error;
  }
}

/** OPA's extendedCert: the certificate with URIStrings (parse_certificates, parse_and_verify_certificates). */
const withUriStrings = (certificate: ParsedCertificate): JsonObject => certificate.json;

/** x509.Certificate alone, as parse_and_verify_certificates_with_options marshals it. */
function withoutUriStrings(certificate: ParsedCertificate): JsonObject {
  const { URIStrings: _uriStrings, ...plain } = certificate.json;
  return plain;
}

// OPA's allowedKeyUsages: option names for x509.ExtKeyUsage values.
const KEY_USAGE_NAMES: Readonly<Record<string, number>> = Object.fromEntries(
  [
    'KeyUsageAny', 'KeyUsageServerAuth', 'KeyUsageClientAuth', 'KeyUsageCodeSigning', 'KeyUsageEmailProtection',
    'KeyUsageIPSECEndSystem', 'KeyUsageIPSECTunnel', 'KeyUsageIPSECUser', 'KeyUsageTimeStamping', 'KeyUsageOCSPSigning',
    'KeyUsageMicrosoftServerGatedCrypto', 'KeyUsageNetscapeServerGatedCrypto', 'KeyUsageMicrosoftCommercialCodeSigning',
    'KeyUsageMicrosoftKernelCodeSigning',
  ].map((name, value) => [name, EXT_KEY_USAGES[value]![1]]),
);

const INT64_MAX = (1n << 63n) - 1n;

/** OPA's extractVerifyOpts: DNSName, CurrentTime (ns), KeyUsages, MaxConstraintComparisons; any other key fails. */
function verifyOptionsOf(options: JsonObject, evaluation: Evaluation): VerifyOptions {
  let dnsName = '';
  let currentTimeNs = evaluation.nowNs;
  const keyUsages: number[] = [];
  for (const key of Object.keys(options).sort()) {
    const value = options[key];
    switch (key) {
      case 'DNSName':
        if (typeof value !== 'string') fail("'DNSName' should be a string");
        dnsName = value.replace(/^"+|"+$/g, '');
        break;
      case 'CurrentTime':
        if (typeof value !== 'number') fail("'CurrentTime' should be a number");
        if (!Number.isInteger(value) || BigInt(value) > INT64_MAX || BigInt(value) < -INT64_MAX - 1n) fail("'CurrentTime' should be a valid int64 number");
        currentTimeNs = BigInt(value);
        break;
      case 'MaxConstraintComparisons':
        // Only bounds name-constraint checks, which fail the builtin here anyway; validated as OPA does.
        if (typeof value !== 'number') fail("'MaxConstraintComparisons' should be a number");
        if (!Number.isInteger(value)) fail("'MaxConstraintComparisons' should be a valid number");
        break;
      case 'KeyUsages': {
        // Sets arrive as arrays from opa-wasm; OPA takes both.
        if (!Array.isArray(value)) fail("'KeyUsages' should be an Array or Set");
        const invalid: string[] = [];
        for (const usage of value) {
          if (typeof usage !== 'string') continue;
          const name = usage.replace(/^"+|"+$/g, '');
          const known = KEY_USAGE_NAMES[name];
          if (known === undefined) invalid.push(name);
          else keyUsages.push(known);
        }
        if (invalid.length > 0) fail(`invalid entries for 'KeyUsages' found: [${invalid.join(' ')}]`);
        break;
      }
      default:
        fail('invalid key option');
    }
  }
  return { dnsName, currentTimeNs, keyUsages };
}

/** pem.Encode of one block: base64 in lines of 64. */
function encodePem(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.map((line) => `${line}\n`).join('')}-----END ${type}-----\n`;
}

/** OPA's getTLSx509KeyPairFromString: PEM, else base64 of PEM, else base64 of DER (wrapped as PEM). */
function keyPairInput(text: string, type: string, pemPrefix: string): string {
  if (text.startsWith('-----BEGIN ')) return text;
  const bytes = decodeBase64Strict(text, false);
  if (bytes.subarray(0, pemPrefix.length).toString('latin1') === pemPrefix) return bytes.toString('latin1');
  return encodePem(type, bytes);
}

export const x509Builtins: BuiltinTable = {
  'crypto.parse_private_keys': (_evaluation, value) => {
    const text = stringArg(value, 1);
    if (text === '') return null;
    // Base64 of PEM is decoded first; text that is not valid base64 is taken as PEM.
    let pem = text;
    try {
      pem = decodeBase64Strict(text, false).toString('latin1');
    } catch (error) {
      if (!(error instanceof BuiltinError)) throw error;
    }
    return privateKeysFromPem(pem);
  },
  'crypto.x509.parse_keypair': (_evaluation, certificate, key) => {
    const certificatePem = keyPairInput(stringArg(certificate, 1), 'CERTIFICATE', '-----BEGIN ');
    const keyPem = keyPairInput(stringArg(key, 1), 'PRIVATE KEY', '-----BEGIN');
    return parseKeyPair(certificatePem, keyPem);
  },
  'crypto.x509.parse_certificates': (_evaluation, value) => certificatesFromString(stringArg(value, 1)).map(withUriStrings),
  'crypto.x509.parse_and_verify_certificates': (evaluation, value) => {
    const certificates = tryCertificatesFromString(stringArg(value, 1));
    if (certificates === undefined) return [false, []];
    const chain = verifyCertificateChain(certificates, { dnsName: '', currentTimeNs: evaluation.nowNs, keyUsages: [] });
    return chain === undefined ? [false, []] : [true, chain.map(withUriStrings)];
  },
  'crypto.x509.parse_and_verify_certificates_with_options': (evaluation, value, options) => {
    const text = stringArg(value, 1);
    if (!isObject(options)) fail('operand 2 must be object');
    const certificates = tryCertificatesFromString(text);
    if (certificates === undefined) return [false, []];
    const chain = verifyCertificateChain(certificates, verifyOptionsOf(options, evaluation));
    return chain === undefined ? [false, []] : [true, chain.map(withoutUriStrings)];
  },
  // OPA: base64 unless it starts as a PEM request; then the first PEM block if there is one, else DER.
  'crypto.x509.parse_certificate_request': (_evaluation, value) => {
    const text = stringArg(value, 1);
    let bytes = text.startsWith('-----BEGIN CERTIFICATE REQUEST-----') ? Buffer.from(text, 'latin1') : decodeBase64Strict(text, false);
    const decoded = decodePem(bytes.toString('latin1'));
    if (decoded !== undefined && decoded.block.type !== 'CERTIFICATE REQUEST') fail('invalid PEM-encoded certificate signing request');
    if (decoded !== undefined) bytes = decoded.block.bytes;
    return parseCertificateRequest(bytes);
  },
  'crypto.x509.parse_rsa_private_key': (_evaluation, value) => {
    let text = stringArg(value, 1);
    if (text === '') fail('input PEM data was empty');
    if (!text.startsWith('-----BEGIN')) text = decodeBase64Strict(text, false).toString('latin1');
    const block = BLOCK.exec(text);
    if (block === null) return null;
    try {
      return createPrivateKey({ key: block[0], format: 'pem' }).export({ format: 'jwk' });
    } catch {
      fail('failed to parse the private key');
    }
  },
};
