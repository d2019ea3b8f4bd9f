// Real X.509 certificates for identity tests, made at test time (@peculiar/x509 on node:crypto's WebCrypto).
import 'reflect-metadata'; // required by @peculiar/x509's dependency injection (tsyringe)
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type KeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface LeafOptions {
  uris?: string[];
  dns?: string[];
  subject?: string;
}

let caPromise: Promise<{ cert: x509.X509Certificate; keys: KeyPair }> | undefined;

function ca(): Promise<{ cert: x509.X509Certificate; keys: KeyPair }> {
  caPromise ??= (async () => {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=meshwarden test CA, O=meshwarden',
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 24 * 3600_000),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    return { cert, keys };
  })();
  return caPromise;
}

/** A leaf certificate signed by the test CA, as PEM. */
export async function leafPem(options: LeafOptions): Promise<string> {
  const authority = await ca();
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
  const names = [...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })), ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value }))];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Math.floor(Math.random() * 1e9).toString(16).padStart(8, '0'),
    subject: options.subject ?? '',
    issuer: authority.cert.subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 3600_000),
    signingKey: authority.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, options.subject === undefined || options.subject === '')] : []),
    ],
  });
  return cert.toString('pem');
}

/** What Envoy puts in `source.certificate`: the URL-encoded PEM of the peer's leaf. */
export async function envoyCertificate(options: LeafOptions): Promise<string> {
  return encodeURIComponent(await leafPem(options));
}

export async function caPem(): Promise<string> {
  return (await ca()).cert.toString('pem');
}

/** A certificate authority of its own, for TLS listeners and their clients. */
export interface TestCa {
  cert: x509.X509Certificate;
  keys: KeyPair;
  pem: string;
}

export async function createCa(name: string): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Math.floor(Math.random() * 1e9).toString(16).padStart(8, '0'),
    name: `CN=${name}, O=meshwarden tests`,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { cert, keys, pem: cert.toString('pem') };
}

export interface IssuedPair {
  cert: string;
  key: string;
  serial: string;
}

/** A leaf certificate and its PKCS#8 key (PEM), signed by `ca`, valid from `notBefore` to `notAfter`. */
export async function issuePair(ca: TestCa, options: LeafOptions & { notBefore?: Date; notAfter?: Date }): Promise<IssuedPair> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
  const names = [...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })), ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value }))];
  const serial = Math.floor(Math.random() * 1e12).toString(16).padStart(10, '0');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: options.subject ?? 'CN=meshwarden test leaf',
    issuer: ca.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 3600_000),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key, serial };
}
