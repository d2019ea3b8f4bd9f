#!/usr/bin/env node
// Micro-benchmark of the x509 host builtins on the built code: how long one parse or one verification takes.
//
// Certificates are made at start (a P-256 root, a P-384 intermediate, a P-256 leaf with SPIFFE and DNS SANs,
// and a 2048-bit RSA root). Figures are reported, never asserted: speed on a shared machine is no pass/fail
// test. What is asserted is that each call gives the answer it must (a bad answer measures nothing).
//
// Usage: npm run build && node test/bench/x509-bench.mjs   (BENCH_SECONDS per case, default 2)
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createHostBuiltins } from '../../dist/src/builtins/index.js';

x509.cryptoProvider.set(webcrypto);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

async function issue(algorithm, signing, subject, issuer, extensions) {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0102030405060708090a0b0c0d0e0f10',
    subject,
    issuer: issuer?.cert.subject ?? subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    signingKey: (issuer?.keys ?? keys).privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: issuer?.signing ?? signing,
    extensions,
  });
  return { cert, keys, signing, pem: cert.toString('pem') };
}

const P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const P384 = { name: 'ECDSA', namedCurve: 'P-384' };
const RSA = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
const ca = [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)];
const root = await issue(P256, { name: 'ECDSA', hash: 'SHA-256' }, 'CN=bench root', undefined, ca);
const intermediate = await issue(P384, { name: 'ECDSA', hash: 'SHA-384' }, 'CN=bench intermediate', root, ca);
const leaf = await issue(P256, { name: 'ECDSA', hash: 'SHA-256' }, 'CN=bench leaf', intermediate, [
  new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://cluster.local/ns/default/sa/bench' }, { type: 'dns', value: 'bench.example' }]),
  new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
]);
const rsaRoot = await issue(RSA, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, 'CN=bench rsa root', undefined, ca);

const host = createHostBuiltins();
const decode = (value) => (value instanceof ArrayBuffer ? JSON.parse(new TextDecoder().decode(value)) : value);
const chain = [root.pem, intermediate.pem, leaf.pem].join('\n');
const cases = [
  ['parse_certificates (P-256 leaf, PEM)', 'crypto.x509.parse_certificates', [leaf.pem], (r) => r[0].URIStrings[0] === 'spiffe://cluster.local/ns/default/sa/bench'],
  ['parse_certificates (RSA-2048 root, PEM)', 'crypto.x509.parse_certificates', [rsaRoot.pem], (r) => r[0].PublicKey.E === 65537],
  ['parse_certificates (3-certificate chain)', 'crypto.x509.parse_certificates', [chain], (r) => r.length === 3],
  ['parse_and_verify_certificates (3-certificate chain)', 'crypto.x509.parse_and_verify_certificates', [chain], (r) => r[0] === true && r[1].length === 3],
];

console.log(`node ${process.version}, ${SECONDS} s per case`);
for (const [name, builtin, args, check] of cases) {
  const call = host.builtins[builtin];
  host.beginEvaluation();
  if (!check(decode(call(...args)))) throw new Error(`${name}: wrong answer`);
  let count = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < end) {
    host.beginEvaluation();
    call(...args);
    count++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${name.padEnd(52)} ${(count / seconds).toFixed(0).padStart(8)} calls/s  ${((seconds / count) * 1e6).toFixed(1).padStart(8)} µs/call`);
}
