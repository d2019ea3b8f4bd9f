// Differential cases of crypto.x509.*: certificates of every key type made at test time, good and bad input.
import { KeyObject, generateKeyPairSync, webcrypto } from 'node:crypto';
import type { Cases } from '../differential.js';
import { DerReader, TAG } from '../../../../src/builtins/der.js';
import { issueCertificate, issueCertificateRequest } from '../../../helpers/certs.js';

const quote = (text: string): string => JSON.stringify(text);
const base64 = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64');

// DER extension values (base64) as openssl writes them for: name constraints (permitted DNS .example,
// excluded IP 10.0.0.0/8), certificate policies (1.2.3.4.5), authority info access (OCSP, CA issuers), CRL
// distribution points.
const NAME_CONSTRAINTS = { oid: '2.5.29.30', critical: true, value: 'MBygDDAKggguZXhhbXBsZaEMMAqHCAoAAAD/AAAA' };
const POLICIES = { oid: '2.5.29.32', critical: false, value: 'MAgwBgYEKgMEBQ==' };
const AUTHORITY_INFO = { oid: '1.3.6.1.5.5.7.1.1', critical: false, value: 'MDQwGQYIKwYBBQUHMAGGDWh0dHA6Ly9vY3NwLngwFwYIKwYBBQUHMAKGC2h0dHA6Ly9jYS54' };
const CRL_POINTS = { oid: '2.5.29.31', critical: false, value: 'MBQwEqAQoA6GDGh0dHA6Ly9jcmwueA==' };
const UNKNOWN_CRITICAL = { oid: '1.2.3.4.99', critical: true, value: 'BQA=' };

/** DER: one element of this tag around these bytes (short and long lengths). */
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const length = body.length < 128 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

// IP constraints here are IPv4 (address, mask); IPV6_DOC_RANGE below is an IPv6 one.
type GeneralName = ['dns' | 'email' | 'uri', string] | ['ip', string, string];

/** A name constraints extension value: permitted and excluded GeneralSubtrees. */
function nameConstraints(permitted: GeneralName[], excluded: GeneralName[]): { oid: string; critical: boolean; value: string } {
  const ipBytes = (text: string): Buffer => Buffer.from(text.split('.').map(Number)); // IPv4 only
  const name = ([kind, value, mask]: GeneralName): Buffer => {
    if (kind === 'ip') return tlv(0x87, ipBytes(value), ipBytes(mask!));
    return tlv({ dns: 0x82, email: 0x81, uri: 0x86 }[kind], Buffer.from(value));
  };
  const subtrees = (names: GeneralName[]): Buffer[] => names.map((n) => tlv(0x30, name(n)));
  const parts = [
    ...(permitted.length > 0 ? [tlv(0xa0, ...subtrees(permitted))] : []),
    ...(excluded.length > 0 ? [tlv(0xa1, ...subtrees(excluded))] : []),
  ];
  return { oid: '2.5.29.30', critical: true, value: tlv(0x30, ...parts).toString('base64') };
}

// 2001:db8::/32 as the 32 bytes of an iPAddress constraint.
const IPV6_DOC_RANGE = { oid: '2.5.29.30', critical: false, value: Buffer.concat([Buffer.from('3026a02430228720', 'hex'), Buffer.from('20010db8000000000000000000000000', 'hex'), Buffer.from('ffffffff000000000000000000000000', 'hex')]).toString('base64') };

/** DER of a SEQUENCE around these elements, any length. */
function sequence(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

/** The certificate with its validity replaced by these two times (tag, text): unsigned now, which parsing ignores. */
function withValidity(der: Buffer, notBefore: [number, string], notAfter: [number, string]): Buffer {
  const certificate = new DerReader(new DerReader(der).read(TAG.SEQUENCE, 'certificate').body);
  const tbs = new DerReader(certificate.read(TAG.SEQUENCE, 'tbs').body);
  const fields: Buffer[] = [];
  while (!tbs.empty) fields.push(tbs.readAny('field').full);
  // version, serial, signature algorithm, issuer, validity, …
  const time = ([tag, text]: [number, string]): Buffer => Buffer.concat([Buffer.from([tag, text.length]), Buffer.from(text, 'latin1')]);
  fields[4] = sequence(time(notBefore), time(notAfter));
  return sequence(sequence(...fields), certificate.rest());
}

/** The certificate with its subject replaced by this RDNSequence (DER): unsigned now, which parsing ignores. */
function withSubject(der: Buffer, subject: Buffer): Buffer {
  const certificate = new DerReader(new DerReader(der).read(TAG.SEQUENCE, 'certificate').body);
  const tbs = new DerReader(certificate.read(TAG.SEQUENCE, 'tbs').body);
  const fields: Buffer[] = [];
  while (!tbs.empty) fields.push(tbs.readAny('field').full);
  fields[5] = subject;
  return sequence(sequence(...fields), certificate.rest());
}

/** An RDNSequence of single-attribute RDNs: (OID arcs, value tag, value bytes). */
function rdnSequence(...attributes: Array<[number[], number, Buffer]>): Buffer {
  const der = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, body.length]), body]);
  const oid = (arcs: number[]): Buffer => der(0x06, Buffer.from([arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]));
  return sequence(...attributes.map(([arcs, tag, value]) => der(0x31, sequence(oid(arcs), der(tag, value)))));
}

const oidDer = (arcs: number[]): Buffer => tlv(0x06, Buffer.from([arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]));
const POLICY_A = [1, 2, 3, 4, 5];
const POLICY_B = [1, 2, 3, 4, 6];
const ANY_POLICY = [2, 5, 29, 32, 0];
const policies = (...oids: number[][]) => ({ oid: '2.5.29.32', critical: false, value: tlv(0x30, ...oids.map((oid) => tlv(0x30, oidDer(oid)))).toString('base64') });
const REQUIRE_EXPLICIT = { oid: '2.5.29.36', critical: true, value: 'MAOAAQA=' };
const mapping = (from: number[], to: number[]) => ({ oid: '2.5.29.33', critical: true, value: tlv(0x30, tlv(0x30, oidDer(from), oidDer(to))).toString('base64') });

export async function x509Cases(): Promise<Cases> {
  const join = (...certificates: Array<{ pem: string }>): string => certificates.map((certificate) => certificate.pem).join('\n');
  const rsaRoot = await issueCertificate({ keyType: 'rsa', subject: 'CN=RSA Root, O=meshwarden, OU=tests, C=DE, L=Berlin, ST=Berlin', ca: {} });
  const p256Root = await issueCertificate({ keyType: 'p256', subject: 'CN=P256 Root, O=meshwarden', ca: { pathLength: 1 }, serial: '7fffffffffffffffffffffff01' });
  const p384Intermediate = await issueCertificate({ keyType: 'p384', subject: 'CN=P384 Intermediate', issuer: p256Root, ca: { pathLength: 0 }, serial: '0a' });
  const leaf = await issueCertificate({
    keyType: 'p256',
    subject: 'CN=leaf.example, O=meshwarden',
    issuer: p384Intermediate,
    serial: '1234567890abcdef1234',
    dns: ['leaf.example', '*.leaf.example'],
    uris: ['spiffe://cluster.local/ns/default/sa/leaf'],
    ips: ['127.0.0.1', '::1', '2001:db8::1'],
    emails: ['ops@example.com'],
    extendedKeyUsages: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.2.3.4'],
  });
  const ed25519 = await issueCertificate({ keyType: 'ed25519', subject: 'CN=ed25519 self', issuer: rsaRoot, serial: '02' });
  const noSubject = await issueCertificate({ keyType: 'p256', subject: '', issuer: rsaRoot, uris: ['spiffe://cluster.local/ns/a/sa/b'] });
  const expired = await issueCertificate({
    keyType: 'p256',
    subject: 'CN=expired',
    issuer: rsaRoot,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-06-30T12:34:56Z'),
  });
  const extras = await issueCertificate({
    keyType: 'rsa',
    subject: 'CN=extras',
    ca: {},
    rawExtensions: [NAME_CONSTRAINTS, POLICIES, AUTHORITY_INFO, CRL_POINTS, UNKNOWN_CRITICAL],
  });
  const clientOnly = await issueCertificate({ keyType: 'p256', subject: 'CN=client', issuer: rsaRoot, extendedKeyUsages: ['1.3.6.1.5.5.7.3.2'] });
  const notCa = await issueCertificate({ keyType: 'p256', subject: 'CN=not a CA', issuer: rsaRoot });
  const underNotCa = await issueCertificate({ keyType: 'p256', subject: 'CN=under not a CA', issuer: notCa });
  const zeroPathRoot = await issueCertificate({ keyType: 'p256', subject: 'CN=zero path root', ca: { pathLength: 0 } });
  const zeroPathIntermediate = await issueCertificate({ keyType: 'p256', subject: 'CN=zero path intermediate', issuer: zeroPathRoot, ca: {} });
  const zeroPathLeaf = await issueCertificate({ keyType: 'p256', subject: 'CN=zero path leaf', issuer: zeroPathIntermediate });
  const criticalLeaf = await issueCertificate({ keyType: 'p256', subject: 'CN=critical', issuer: rsaRoot, rawExtensions: [UNKNOWN_CRITICAL] });
  const oldRoot = await issueCertificate({ keyType: 'p384', subject: 'CN=old root', ca: {}, notBefore: new Date('2019-01-01T00:00:00Z') });
  const expiredUnderOld = await issueCertificate({
    keyType: 'ed25519',
    subject: 'CN=expired under old',
    issuer: oldRoot,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-06-30T12:34:56Z'),
  });
  const rsaRequest = await issueCertificateRequest({ keyType: 'rsa', subject: 'CN=rsa request, O=meshwarden, C=DE', challengePassword: 'secret' });
  const p256Request = await issueCertificateRequest({
    keyType: 'p256',
    subject: 'CN=p256 request',
    dns: ['svc.example'],
    uris: ['spiffe://cluster.local/ns/default/sa/svc'],
    ips: ['10.1.2.3', 'fe80::1'],
    emails: ['svc@example.com'],
    keyUsage: true,
  });
  const p384Request = await issueCertificateRequest({ keyType: 'p384', subject: 'CN=p384 request' });
  const ed25519Request = await issueCertificateRequest({ keyType: 'ed25519', subject: '', dns: ['ed.example'] });
  const request = (input: string): string => `crypto.x509.parse_certificate_request(${quote(input)})`;
  const constrained = await issueCertificate({ keyType: 'p256', subject: 'CN=constrained', ca: {}, rawExtensions: [NAME_CONSTRAINTS] });
  const mixedConstraints = nameConstraints(
    [['email', 'example.com'], ['uri', '.spiffe.test'], ['ip', '192.168.0.0', '255.255.0.0'], ['dns', 'example.com']],
    [['dns', 'bad.example.com'], ['email', 'boss@example.com']],
  );
  const mixed = await issueCertificate({ keyType: 'p384', subject: 'CN=mixed constraints', ca: {}, rawExtensions: [mixedConstraints] });
  const excludedParent = await issueCertificate({
    keyType: 'ed25519',
    subject: 'CN=excluded parent',
    ca: {},
    rawExtensions: [nameConstraints([], [['dns', 'corp.example.com']])],
  });
  const constrainedIntermediate = await issueCertificate({ keyType: 'p256', subject: 'CN=constrained intermediate', issuer: rsaRoot, ca: {}, rawExtensions: [NAME_CONSTRAINTS] });
  const intermediateLeafOk = await issueCertificate({ keyType: 'p256', subject: 'CN=ok', issuer: constrainedIntermediate, dns: ['ok.example'] });
  const intermediateLeafBad = await issueCertificate({ keyType: 'p256', subject: 'CN=bad', issuer: constrainedIntermediate, dns: ['bad.test'] });
  const ipv6Only = await issueCertificate({ keyType: 'p256', subject: 'CN=ipv6 only', ca: {}, rawExtensions: [IPV6_DOC_RANGE] });
  const underConstrained = async (issuer: typeof constrained, names: { dns?: string[]; ips?: string[]; uris?: string[]; emails?: string[] }): Promise<string> =>
    join(issuer, await issueCertificate({ keyType: 'p256', subject: 'CN=constrained leaf', issuer, ...names }));
  const constraintChains = {
    permitted_dns: await underConstrained(constrained, { dns: ['a.example', 'deep.b.example'] }),
    unpermitted_dns: await underConstrained(constrained, { dns: ['a.example', 'a.other'] }),
    excluded_ip: await underConstrained(constrained, { dns: ['a.example'], ips: ['10.1.2.3'] }),
    other_ip: await underConstrained(constrained, { dns: ['a.example'], ips: ['192.168.1.1', '::1'] }),
    unconstrained_kinds: await underConstrained(constrained, { dns: ['a.example'], uris: ['spiffe://x.other/ns/a'], emails: ['x@y.z'] }),
    no_sans: join(constrained, await issueCertificate({ keyType: 'p256', subject: 'CN=no sans', issuer: constrained })),
    mixed_ok: await underConstrained(mixed, { dns: ['www.example.com'], emails: ['ops@example.com'], uris: ['spiffe://a.spiffe.test/x'], ips: ['192.168.4.5'] }),
    mixed_bad_dns: await underConstrained(mixed, { dns: ['x.bad.example.com'] }),
    mixed_bad_email: await underConstrained(mixed, { emails: ['boss@EXAMPLE.com'] }),
    mixed_other_email: await underConstrained(mixed, { emails: ['ops@elsewhere.org'] }),
    mixed_bad_uri: await underConstrained(mixed, { uris: ['spiffe://spiffe.test.evil/x'] }),
    mixed_uri_ip: await underConstrained(mixed, { uris: ['https://192.168.1.1/'] }),
    mixed_bad_ip: await underConstrained(mixed, { ips: ['10.0.0.1'] }),
    mixed_ipv6: await underConstrained(mixed, { ips: ['2001:db8::1'] }),
    excluded_wildcard_parent: await underConstrained(excludedParent, { dns: ['*.corp.example.com'] }),
    excluded_sibling: await underConstrained(excludedParent, { dns: ['www.example.com'] }),
    ipv6_inside: await underConstrained(ipv6Only, { ips: ['2001:db8:1::5'] }),
    ipv6_outside: await underConstrained(ipv6Only, { ips: ['2001:db9::5'] }),
    ipv6_only_v4: await underConstrained(ipv6Only, { ips: ['127.0.0.1'] }),
  };
  const constraintCases = Object.fromEntries(
    Object.entries(constraintChains).map(([name, chain]) => [`constraints_${name}`, `crypto.x509.parse_and_verify_certificates_with_options(${quote(chain)}, {"KeyUsages": ["KeyUsageAny"]})[0]`]),
  );
  const pssRoot = await issueCertificate({ keyType: 'rsa-pss', subject: 'CN=PSS root', ca: {} });
  const underPss = await issueCertificate({ keyType: 'p521', subject: 'CN=under PSS', issuer: pssRoot, notAfter: new Date('2051-03-04T05:06:07Z') });
  const oddUris = await issueCertificate({
    keyType: 'p256',
    subject: 'CN=odd uris',
    issuer: rsaRoot,
    uris: ['SPIFFE://Cluster.Local/ns/a/sa/b', 'https://user@h.example:8443/p%41th?q=1#frag', 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66', 'https://h.example/a%2Fb?'],
  });
  const policyChain = async (rootExtensions: Array<{ oid: string; critical: boolean; value: string }>, intermediateExtensions: typeof rootExtensions, leafExtensions: typeof rootExtensions): Promise<string> => {
    const root = await issueCertificate({ keyType: 'p256', subject: 'CN=policy root', ca: {}, rawExtensions: rootExtensions });
    const intermediate = await issueCertificate({ keyType: 'p256', subject: 'CN=policy intermediate', issuer: root, ca: {}, rawExtensions: intermediateExtensions });
    const end = await issueCertificate({ keyType: 'p256', subject: 'CN=policy leaf', issuer: intermediate, rawExtensions: leafExtensions });
    return join(root, intermediate, end);
  };
  const policyChains = {
    root_requires_explicit: await policyChain([REQUIRE_EXPLICIT], [], []),
    intermediate_requires_none_given: await policyChain([], [REQUIRE_EXPLICIT], []),
    intermediate_requires_given: await policyChain([], [REQUIRE_EXPLICIT, policies(POLICY_A)], [policies(POLICY_A)]),
    intermediate_requires_other: await policyChain([], [REQUIRE_EXPLICIT, policies(POLICY_A)], [policies(POLICY_B)]),
    leaf_any_policy: await policyChain([], [REQUIRE_EXPLICIT, policies(POLICY_A)], [policies(ANY_POLICY)]),
    intermediate_any_policy: await policyChain([], [REQUIRE_EXPLICIT, policies(ANY_POLICY)], [policies(POLICY_B)]),
    leaf_requires_explicit: await policyChain([], [], [REQUIRE_EXPLICIT]),
    mapped: await policyChain([], [REQUIRE_EXPLICIT, policies(POLICY_A), mapping(POLICY_A, POLICY_B)], [policies(POLICY_B)]),
    mapped_any: await policyChain([], [policies(POLICY_A), mapping(ANY_POLICY, POLICY_B)], [policies(POLICY_B)]),
    policies_without_constraints: await policyChain([policies(POLICY_A)], [policies(POLICY_B)], [policies(POLICY_A)]),
  };
  const policyCases = Object.fromEntries(
    Object.entries(policyChains).map(([name, chain]) => [`policies_${name}`, `crypto.x509.parse_and_verify_certificates_with_options(${quote(chain)}, {"KeyUsages": ["KeyUsageAny"]})[0]`]),
  );
  const keyPem = (certificate: { keys: webcrypto.CryptoKeyPair }, type: 'pkcs1' | 'pkcs8' | 'sec1'): string =>
    KeyObject.from(certificate.keys.privateKey).export({ type, format: 'pem' }).toString();
  const keyDer = (certificate: { keys: webcrypto.CryptoKeyPair }): Buffer =>
    KeyObject.from(certificate.keys.privateKey).export({ type: 'pkcs8', format: 'der' });
  const privateKeys = (input: string): string => `crypto.parse_private_keys(${quote(input)})`;
  const keyPair = (certificate: string, key: string): string => `crypto.x509.parse_keypair(${quote(certificate)}, ${quote(key)})`;
  const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const chainPem = [p256Root.pem, p384Intermediate.pem, leaf.pem].join('\n');
  const parse = (input: string): string => `crypto.x509.parse_certificates(${quote(input)})`;
  const verify = (input: string): string => `crypto.x509.parse_and_verify_certificates(${quote(input)})`;
  const withOptions = (input: string, options: object): string =>
    `crypto.x509.parse_and_verify_certificates_with_options(${quote(input)}, ${JSON.stringify(options)})`;

  return {
    rsa_root: parse(rsaRoot.pem),
    p256_root_big_serial: parse(p256Root.pem),
    p256_big_serial_exact: `json.marshal(${parse(p256Root.pem)}[0].SerialNumber)`,
    rsa_modulus_exact: `json.marshal(${parse(rsaRoot.pem)}[0].PublicKey.N)`,
    ec_point_exact: { body: `k := ${parse(leaf.pem)}[0].PublicKey; x := [json.marshal(k.X), json.marshal(k.Y), k.Curve]` },
    p384_intermediate: parse(p384Intermediate.pem),
    leaf_with_sans: parse(leaf.pem),
    ed25519: parse(ed25519.pem),
    no_subject: parse(noSubject.pem),
    expired: parse(expired.pem),
    extensions: parse(extras.pem),
    chain_pem: `count(${parse(chainPem)})`,
    chain_subjects: `[c.Subject.CommonName | some c in ${parse(chainPem)}]`,
    base64_der: parse(base64(leaf.der)),
    base64_der_chain: `[c.SerialNumber | some c in ${parse(base64(Buffer.concat([rsaRoot.der, ed25519.der])))}]`,
    base64_pem: parse(base64(rsaRoot.pem)),
    crlf_pem: parse(rsaRoot.pem.replace(/\n/g, '\r\n')),
    text_before_means_base64: parse(`a preamble\n${rsaRoot.pem}\ntrailing words\n`),
    end_line_not_alone: parse(`${rsaRoot.pem}trailing words\n`),
    chain_no_newlines: parse(p256Root.pem + leaf.pem),
    pem_headers: parse(rsaRoot.pem.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n')),
    empty: parse(''),
    no_block: parse('-----BEGIN nothing here'),
    wrong_block: parse('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
    not_base64: parse('%%% not base64'),
    garbage_der: parse(base64(Buffer.from('not a certificate'))),
    truncated_der: parse(base64(leaf.der.subarray(0, leaf.der.length - 10))),
    trailing_der: parse(base64(Buffer.concat([leaf.der, Buffer.from([0x30, 0x00])]))),
    bad_pem_body: parse('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'),
    not_a_string: 'crypto.x509.parse_certificates(input.number)',

    verify_chain: verify(chainPem),
    verify_chain_length: `count(${verify(chainPem)}[1])`,
    verify_two: verify(join(rsaRoot, ed25519)),
    verify_base64_der: verify(base64(Buffer.concat([rsaRoot.der, ed25519.der]))),
    verify_expired: verify(join(rsaRoot, expired)),
    verify_wrong_order: verify(join(ed25519, rsaRoot)),
    verify_one: verify(rsaRoot.pem),
    verify_wrong_root: verify(join(p256Root, ed25519)),
    verify_root_twice: verify(join(rsaRoot, rsaRoot)),
    verify_client_only: verify(join(rsaRoot, clientOnly)),
    verify_not_ca: verify(join(rsaRoot, notCa, underNotCa)),
    verify_path_length: verify(join(zeroPathRoot, zeroPathIntermediate, zeroPathLeaf)),
    verify_critical: verify(join(rsaRoot, criticalLeaf)),
    verify_unused_intermediate: verify(join(rsaRoot, p384Intermediate, ed25519)),
    verify_bad_input: verify('%%%'),
    verify_not_a_string: 'crypto.x509.parse_and_verify_certificates(input.number)',

    options_dns: withOptions(chainPem, { DNSName: 'leaf.example' }),
    options_dns_wildcard: withOptions(chainPem, { DNSName: 'Deep.LEAF.example' }),
    options_dns_other: withOptions(chainPem, { DNSName: 'other.example' }),
    options_ip: withOptions(chainPem, { DNSName: '127.0.0.1' }),
    options_ipv6: withOptions(chainPem, { DNSName: '[2001:db8:0::1]' }),
    options_client_auth: withOptions(join(rsaRoot, clientOnly), { KeyUsages: ['KeyUsageClientAuth'] }),
    options_client_auth_set: `crypto.x509.parse_and_verify_certificates_with_options(${quote(join(rsaRoot, clientOnly))}, {"KeyUsages": {"KeyUsageClientAuth", "KeyUsageServerAuth"}})`,
    options_any_usage: withOptions(join(rsaRoot, clientOnly), { KeyUsages: ['KeyUsageAny'] }),
    options_server_auth: withOptions(join(rsaRoot, clientOnly), { KeyUsages: ['KeyUsageServerAuth'] }),
    options_then: withOptions(join(rsaRoot, expired), { CurrentTime: Date.parse('2021-01-01T00:00:00Z') * 1e6 }),
    options_before: withOptions(join(rsaRoot, expired), { CurrentTime: Date.parse('2019-01-01T00:00:00Z') * 1e6 }),
    options_max_comparisons: withOptions(join(rsaRoot, ed25519), { MaxConstraintComparisons: 10 }),
    options_empty: withOptions(join(rsaRoot, ed25519), {}),
    options_bad_usage: withOptions(join(rsaRoot, ed25519), { KeyUsages: ['KeyUsageNope'] }),
    options_bad_key: withOptions(join(rsaRoot, ed25519), { Roots: 'x' }),
    options_bad_dns: withOptions(join(rsaRoot, ed25519), { DNSName: 1 }),
    options_bad_time: withOptions(join(rsaRoot, ed25519), { CurrentTime: 1.5 }),
    options_bad_input_bad_options: withOptions('%%%', { Roots: 'x' }),
    request_rsa: request(rsaRequest.pem),
    request_p256_sans: request(p256Request.pem),
    request_p384: request(p384Request.pem),
    request_modulus_exact: `json.marshal(${request(rsaRequest.pem)}.PublicKey.N)`,
    request_ed25519: request(ed25519Request.pem),
    request_base64_der: request(base64(p256Request.der)),
    request_base64_pem: request(base64(rsaRequest.pem)),
    request_der_as_text: request(p256Request.der.toString('latin1')),
    request_certificate_pem: request(rsaRoot.pem),
    request_base64_certificate_pem: request(base64(rsaRoot.pem)),
    request_trailing: request(base64(Buffer.concat([p384Request.der, Buffer.from([0])]))),
    request_garbage: request(base64(Buffer.from('garbage'))),
    request_empty: request(''),
    request_not_a_string: 'crypto.x509.parse_certificate_request(input.number)',

    keys_rsa_pkcs1: privateKeys(keyPem(rsaRoot, 'pkcs1')),
    keys_rsa_pkcs8: privateKeys(keyPem(rsaRoot, 'pkcs8')),
    keys_rsa_exact: `json.marshal(${privateKeys(keyPem(rsaRoot, 'pkcs1'))}[0].D)`,
    keys_p256_sec1: privateKeys(keyPem(leaf, 'sec1')),
    keys_p384_pkcs8: privateKeys(keyPem(p384Intermediate, 'pkcs8')),
    keys_ed25519: privateKeys(keyPem(ed25519, 'pkcs8')),
    keys_x25519: privateKeys(x25519),
    keys_several: `count(${privateKeys([keyPem(rsaRoot, 'pkcs1'), rsaRoot.pem, keyPem(leaf, 'sec1'), keyPem(ed25519, 'pkcs8')].join('\n'))})`,
    keys_base64_pem: privateKeys(base64(keyPem(leaf, 'pkcs8'))),
    keys_empty: privateKeys(''),
    keys_junk: privateKeys('hello'),
    keys_certificate_only: privateKeys(rsaRoot.pem),
    keys_bad_block: privateKeys('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n'),
    keys_wrong_block: privateKeys(keyPem(leaf, 'pkcs8').replace(/PRIVATE KEY/g, 'RSA PRIVATE KEY')),
    keys_not_a_string: 'crypto.parse_private_keys(input.number)',

    keypair_p256: keyPair(leaf.pem, keyPem(leaf, 'pkcs8')),
    keypair_rsa_pkcs1: keyPair(rsaRoot.pem, keyPem(rsaRoot, 'pkcs1')),
    keypair_ec_sec1: keyPair(p384Intermediate.pem, keyPem(p384Intermediate, 'sec1')),
    keypair_ed25519: keyPair(ed25519.pem, keyPem(ed25519, 'pkcs8')),
    keypair_chain: `count(${keyPair(chainPem, keyPem(leaf, 'pkcs8'))}.Certificate)`,
    keypair_chain_wrong_key: keyPair(chainPem, keyPem(p256Root, 'pkcs8')),
    keypair_base64_der: keyPair(base64(leaf.der), base64(keyDer(leaf))),
    keypair_base64_pem: keyPair(base64(rsaRoot.pem), base64(keyPem(rsaRoot, 'pkcs8'))),
    keypair_mismatch: keyPair(leaf.pem, keyPem(noSubject, 'pkcs8')),
    keypair_type_mismatch: keyPair(leaf.pem, keyPem(rsaRoot, 'pkcs8')),
    keypair_swapped: keyPair(keyPem(leaf, 'pkcs8'), leaf.pem),
    keypair_not_base64: keyPair('%%%', keyPem(leaf, 'pkcs8')),
    keypair_not_a_string: `crypto.x509.parse_keypair(input.number, ${quote(keyPem(leaf, 'pkcs8'))})`,

    ...constraintCases,
    ...policyCases,
    constraints_intermediate_ok: `crypto.x509.parse_and_verify_certificates(${quote(join(rsaRoot, constrainedIntermediate, intermediateLeafOk))})[0]`,
    constraints_intermediate_bad: `crypto.x509.parse_and_verify_certificates(${quote(join(rsaRoot, constrainedIntermediate, intermediateLeafBad))})[0]`,

    odd_uris: parse(oddUris.pem),
    ...Object.fromEntries(
      (
        [
          ['string_types', [[[2, 5, 4, 3], 0x14, Buffer.from([0x5a, 0xfc, 0x72])], [[2, 5, 4, 10], 0x1e, Buffer.from('00410042', 'hex')], [[2, 5, 4, 5], 0x12, Buffer.from('12 34')], [[2, 5, 4, 7], 0x16, Buffer.from('Berlin')], [[2, 5, 4, 17], 0x0c, Buffer.from('10115')], [[2, 5, 4, 9], 0x13, Buffer.from('Main St 1')], [[2, 5, 4, 8], 0x0c, Buffer.from('Bärlin')], [[2, 5, 4, 11], 0x13, Buffer.from('unit')], [[1, 2, 840, 113549, 1, 9, 1], 0x16, Buffer.from('a@b.c')]]],
          ['bad_printable', [[[2, 5, 4, 3], 0x13, Buffer.from('a@b')]]],
          ['octet_value', [[[2, 5, 4, 3], 0x04, Buffer.from('x')]]],
          ['bmp_odd', [[[2, 5, 4, 3], 0x1e, Buffer.from('00', 'hex')]]],
          ['bad_utf8', [[[2, 5, 4, 3], 0x0c, Buffer.from('ff', 'hex')]]],
          ['repeated', [[[2, 5, 4, 6], 0x13, Buffer.from('DE')], [[2, 5, 4, 6], 0x13, Buffer.from('FR')], [[2, 5, 4, 3], 0x0c, Buffer.from('one')], [[2, 5, 4, 3], 0x0c, Buffer.from('two')]]],
          ['empty', []],
        ] as Array<[string, Array<[number[], number, Buffer]>]>
      ).map(([name, attributes]) => [`subject_${name}`, `[c.Subject | some c in ${parse(base64(withSubject(leaf.der, rdnSequence(...attributes))))}]`]),
    ),
    ...Object.fromEntries(
      (
        [
          ['utc_offset', [0x17, '240101120000+0130'], [0x17, '491231235959-0800']],
          ['utc_zero_offset', [0x17, '240101120000+0000'], [0x17, '491231235959Z']],
          ['utc_minutes', [0x17, '2401011200Z'], [0x17, '4912312359Z']],
          ['utc_1950', [0x17, '500101000000Z'], [0x17, '690101000000Z']],
          ['generalized_fraction', [0x18, '20240101120000.25Z'], [0x18, '20991231235959.123456789Z']],
          ['generalized_trailing_zero', [0x18, '20240101120000.250Z'], [0x18, '20991231235959Z']],
          ['generalized_offset', [0x18, '20240101120000+0530'], [0x18, '99991231235959Z']],
          ['generalized_year_one', [0x18, '00010101000000Z'], [0x18, '20500101000000Z']],
          ['bad_day', [0x17, '240230000000Z'], [0x17, '491231235959Z']],
        ] as Array<[string, [number, string], [number, string]]>
      ).map(([name, notBefore, notAfter]) => [
        `time_${name}`,
        `[[c.NotBefore, c.NotAfter] | some c in ${parse(base64(withValidity(leaf.der, notBefore, notAfter)))}]`,
      ]),
    ),
    pss_root: parse(pssRoot.pem),
    p521_after_2050: parse(underPss.pem),
    verify_pss_p521: verify(join(pssRoot, underPss)),
    keys_p521: privateKeys(keyPem(underPss, 'pkcs8')),

    options_old_time: withOptions(join(oldRoot, expiredUnderOld), { CurrentTime: Date.parse('2021-01-01T00:00:00Z') * 1e6 }),
    options_old_time_after: withOptions(join(oldRoot, expiredUnderOld), { CurrentTime: Date.parse('2021-06-30T12:34:57Z') * 1e6 }),
  };
}
