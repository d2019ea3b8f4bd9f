// crypto.x509.*: certificates parsed as Go's crypto/x509 parses them, returned as OPA 1.19.1 returns them.
import { createPrivateKey } from 'node:crypto';
import { BuiltinError, fail, isObject, stringArg, type BuiltinTable, type Evaluation, type JsonObject } from './builtin.js';
import { decodeBase64Strict } from './encoding.js';
import { decodePem } from './pem.js';
import { EXT_KEY_USAGES, parseCertificates, type ParsedCertificate } from './x509-certificate.js';
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

export const x509Builtins: BuiltinTable = {
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
