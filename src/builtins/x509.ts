// crypto.x509.*: certificates parsed as Go's crypto/x509 parses them, returned as OPA 1.19.1 returns them.
import { createPrivateKey } from 'node:crypto';
import { fail, stringArg, type BuiltinTable } from './builtin.js';
import { decodeBase64Strict } from './encoding.js';
import { decodePem } from './pem.js';
import { parseCertificates, type ParsedCertificate } from './x509-certificate.js';

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

export const x509Builtins: BuiltinTable = {
  'crypto.x509.parse_certificates': (_evaluation, value) => certificatesFromString(stringArg(value, 1)).map((certificate) => certificate.json),
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
