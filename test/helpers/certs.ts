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

/** The key types the x509 builtin cases are made with. */
export type CertificateKeyType = 'rsa' | 'rsa-pss' | 'p256' | 'p384' | 'p521' | 'ed25519';

const KEY_ALGORITHMS: Readonly<Record<CertificateKeyType, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | webcrypto.Algorithm>> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as webcrypto.RsaHashedKeyGenParams,
  'rsa-pss': { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as webcrypto.RsaHashedKeyGenParams,
  p256: { name: 'ECDSA', namedCurve: 'P-256' } as webcrypto.EcKeyGenParams,
  p384: { name: 'ECDSA', namedCurve: 'P-384' } as webcrypto.EcKeyGenParams,
  p521: { name: 'ECDSA', namedCurve: 'P-521' } as webcrypto.EcKeyGenParams,
  ed25519: { name: 'Ed25519' },
};

const SIGNING_ALGORITHMS: Readonly<Record<CertificateKeyType, webcrypto.Algorithm & { hash?: string }>> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  'rsa-pss': { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 } as webcrypto.Algorithm & { hash: string },
  p256: { name: 'ECDSA', hash: 'SHA-256' },
  p384: { name: 'ECDSA', hash: 'SHA-384' },
  p521: { name: 'ECDSA', hash: 'SHA-512' },
  ed25519: { name: 'Ed25519' },
};

export interface IssuedCertificate {
  readonly pem: string;
  readonly der: Buffer;
  readonly keyType: CertificateKeyType;
  readonly keys: KeyPair;
  readonly cert: x509.X509Certificate;
}

export interface CertificateOptions {
  keyType: CertificateKeyType;
  subject: string;
  /** The issuing certificate; omitted: self-signed. */
  issuer?: IssuedCertificate;
  /** Hex, without sign; big values are welcome (Go returns them as exact JSON numbers). */
  serial?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** A CA (basicConstraints cA, keyCertSign) with this path length (undefined: none). */
  ca?: { pathLength?: number };
  dns?: string[];
  uris?: string[];
  ips?: string[];
  emails?: string[];
  /** Extended key usage OIDs. */
  extendedKeyUsages?: string[];
  /** Further extensions given as their DER value (base64), e.g. name constraints or policies. */
  rawExtensions?: Array<{ oid: string; critical: boolean; value: string }>;
}

/** A certificate made to order: any key type, self-signed or issued, with SANs, CA constraints and usages. */
export async function issueCertificate(options: CertificateOptions): Promise<IssuedCertificate> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHMS[options.keyType], true, ['sign', 'verify'])) as KeyPair;
  const signer = options.issuer ?? { keys, keyType: options.keyType, cert: undefined };
  const names = [
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  const extensions: x509.Extension[] = [];
  if (options.ca !== undefined) {
    extensions.push(new x509.BasicConstraintsExtension(true, options.ca.pathLength, true));
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true));
  } else {
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true));
  }
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, options.subject === ''));
  if (options.extendedKeyUsages !== undefined) extensions.push(new x509.ExtendedKeyUsageExtension(options.extendedKeyUsages, false));
  for (const raw of options.rawExtensions ?? []) {
    extensions.push(new x509.Extension(raw.oid, raw.critical, new Uint8Array(Buffer.from(raw.value, 'base64'))));
  }
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (options.issuer !== undefined) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.cert));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serial ?? '01',
    subject: options.subject,
    issuer: options.issuer?.cert.subject ?? options.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 24 * 3600_000),
    signingKey: signer.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: SIGNING_ALGORITHMS[signer.keyType],
    extensions,
  });
  return { pem: cert.toString('pem'), der: Buffer.from(cert.rawData), keyType: options.keyType, keys, cert };
}

export interface CertificateRequestOptions {
  keyType: CertificateKeyType;
  subject: string;
  dns?: string[];
  uris?: string[];
  ips?: string[];
  emails?: string[];
  /** A challengePassword attribute (Go leaves it out of Attributes: it is not an AttributeTypeAndValueSET). */
  challengePassword?: string;
  /** A critical key usage extension besides the SANs. */
  keyUsage?: boolean;
}

/** A PKCS#10 certificate signing request of any key type, with requested SANs, as PEM and DER. */
export async function issueCertificateRequest(options: CertificateRequestOptions): Promise<{ pem: string; der: Buffer }> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHMS[options.keyType], true, ['sign', 'verify'])) as KeyPair;
  const names = [
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  const extensions: x509.Extension[] = [];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  if (options.keyUsage === true) extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.subject,
    keys,
    signingAlgorithm: SIGNING_ALGORITHMS[options.keyType],
    extensions,
    attributes: options.challengePassword === undefined ? [] : [new x509.ChallengePasswordAttribute(options.challengePassword)],
  });
  return { pem: request.toString('pem'), der: Buffer.from(request.rawData) };
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
