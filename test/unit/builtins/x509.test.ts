// crypto.x509.* through the host surface: exact big integers, OPA's answer to bad input, the bound on constraint checks.
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../../../src/builtins/index.js';
import { issueCertificate } from '../../helpers/certs.js';

const host = createHostBuiltins();
const decoder = new TextDecoder();


/** A name constraints extension permitting these DNS names (DER built by hand: SEQUENCE { [0] subtrees }). */
function permittedDns(names: string[]): { oid: string; critical: boolean; value: string } {
  const length = (n: number): Buffer => (n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
  const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), length(body.length), body]);
  const subtrees = Buffer.concat(names.map((name) => tlv(0x30, tlv(0x82, Buffer.from(name)))));
  return { oid: '2.5.29.30', critical: true, value: tlv(0x30, tlv(0xa0, subtrees)).toString('base64') };
}

describe('crypto.x509 on the host', () => {
  it('returns a serial number beyond 2^53 as an exact JSON number', async () => {
    const serial = 'f1e2d3c4b5a697887766554433221100';
    const certificate = await issueCertificate({ keyType: 'p256', subject: 'CN=big serial', serial });
    host.beginEvaluation();
    const result = host.builtins['crypto.x509.parse_certificates']!(certificate.pem);
    expect(result).toBeInstanceOf(ArrayBuffer);
    expect(decoder.decode(result as ArrayBuffer)).toContain(`"SerialNumber":${BigInt(`0x${serial}`)},`);
  });

  it('answers [false, []] for input that is no certificate, as OPA does', () => {
    host.beginEvaluation();
    expect(host.builtins['crypto.x509.parse_and_verify_certificates']!('not base64!')).toEqual([false, []]);
  });

  it('fails verification past 250,000 name-constraint comparisons instead of spending the time', async () => {
    const constraints = Array.from({ length: 600 }, (_, i) => `zone${i}.example`);
    const root = await issueCertificate({ keyType: 'p256', subject: 'CN=many constraints', ca: {}, rawExtensions: [permittedDns(constraints)] });
    const few = await issueCertificate({ keyType: 'p256', subject: 'CN=few', issuer: root, dns: ['a.zone1.example'] });
    const many = await issueCertificate({ keyType: 'p256', subject: 'CN=many', issuer: root, dns: Array.from({ length: 500 }, (_, i) => `h${i}.zone1.example`) });
    const options = { KeyUsages: ['KeyUsageAny'] };
    host.beginEvaluation();
    const verify = host.builtins['crypto.x509.parse_and_verify_certificates_with_options']!;
    const answer = verify(`${root.pem}\n${few.pem}`, options);
    expect((JSON.parse(decoder.decode(answer as ArrayBuffer)) as unknown[])[0]).toBe(true);
    expect(verify(`${root.pem}\n${many.pem}`, options)).toBeUndefined();
  });
});
