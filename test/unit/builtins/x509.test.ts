// crypto.x509.* through the host surface: exact big integers, and verification with policy constraints fails the call.
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../../../src/builtins/index.js';
import { issueCertificate } from '../../helpers/certs.js';

const host = createHostBuiltins();
const decoder = new TextDecoder();

// Policy constraints: requireExplicitPolicy 0.
const POLICY_CONSTRAINTS = { oid: '2.5.29.36', critical: true, value: 'MAOAAQA=' };

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

  it('makes verification undefined (not a guess) when the chain carries policy constraints', async () => {
    const root = await issueCertificate({ keyType: 'p256', subject: 'CN=constrained root', ca: {}, rawExtensions: [POLICY_CONSTRAINTS] });
    const leaf = await issueCertificate({ keyType: 'p256', subject: 'CN=leaf', issuer: root, dns: ['a.example'] });
    host.beginEvaluation();
    const parsed = host.builtins['crypto.x509.parse_certificates']!(`${root.pem}\n${leaf.pem}`);
    expect(JSON.parse(decoder.decode(parsed as ArrayBuffer))).toHaveLength(2);
    expect(host.builtins['crypto.x509.parse_and_verify_certificates']!(`${root.pem}\n${leaf.pem}`)).toBeUndefined();
  });
});
