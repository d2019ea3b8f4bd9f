// src/identity/identity.ts: the peers' identity blocks, from what Envoy verified; real certificates made at test time.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildIdentities, IDENTITY_CACHE_MAX_BYTES, identityCacheUsage, parseCertificate, type IdentityOptions } from '../../../src/identity/identity.js';
import type { Attributes } from '../../../src/envoy/types.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';
import { envoyCertificate, leafPem } from '../../helpers/certs.js';

const ANALYTICS = 'spiffe://cluster.local/ns/analytics/sa/analytics';
const DATA = 'spiffe://cluster.local/ns/data/sa/data';

const options: IdentityOptions = {
  trustDomains: createTrustDomains({ local: 'cluster.local', aliases: ['old.example'], federated: ['partner.example'] }),
  xfcc: false,
};
const withXfcc: IdentityOptions = { ...options, xfcc: true };

function attributes(source: Partial<NonNullable<Attributes['source']>> | undefined, headers: Record<string, string> = {}): Attributes {
  return {
    ...(source === undefined ? {} : { source: { address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } }, ...source } }),
    destination: { address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } }, principal: DATA },
    request: { http: { method: 'GET', path: '/api/v1/data', headers } },
  };
}

describe('source identity from the mTLS principal', () => {
  it('an Istio workload identity in the local trust domain is authenticated, with its parts', () => {
    expect(buildIdentities(attributes({ principal: ANALYTICS }), options).source).toEqual({
      principal: ANALYTICS,
      spiffe_id: ANALYTICS,
      trust_domain: 'cluster.local',
      path: '/ns/analytics/sa/analytics',
      namespace: 'analytics',
      service_account: 'analytics',
      local: true,
      authenticated: true,
      via: 'mtls',
      address: '10.0.1.17',
      port: 41234,
    });
  });

  it('the destination is built the same way', () => {
    expect(buildIdentities(attributes({ principal: ANALYTICS }), options).destination).toMatchObject({
      spiffe_id: DATA,
      namespace: 'data',
      service_account: 'data',
      local: true,
      authenticated: true,
      via: 'mtls',
      address: '10.0.2.5',
      port: 8080,
    });
  });

  it('an alias of the local trust domain is local; a federated one is accepted but not local', () => {
    expect(buildIdentities(attributes({ principal: 'spiffe://old.example/ns/a/sa/b' }), options).source).toMatchObject({ local: true, authenticated: true });
    expect(buildIdentities(attributes({ principal: 'spiffe://partner.example/ns/a/sa/b' }), options).source).toMatchObject({ local: false, authenticated: true });
  });

  it('T-10: a foreign trust domain with the same path is never authenticated, and lookalike domains are foreign', () => {
    for (const principal of ['spiffe://evil.example/ns/analytics/sa/analytics', 'spiffe://cluster.local.evil.com/ns/analytics/sa/analytics', 'spiffe://local/ns/a/sa/b']) {
      expect(buildIdentities(attributes({ principal }), options).source).toMatchObject({ spiffe_id: principal, local: false, authenticated: false });
    }
  });

  it('T-02: no source, or an empty principal, is unauthenticated with null parts', () => {
    for (const source of [undefined, {}, { principal: '' }]) {
      expect(buildIdentities(attributes(source), options).source).toMatchObject({
        principal: '',
        spiffe_id: null,
        trust_domain: null,
        namespace: null,
        service_account: null,
        local: false,
        authenticated: false,
        via: null,
      });
    }
  });

  it.each([
    ['T-03 DNS SAN', 'foo.example.com'],
    ['T-03 RFC 2253 subject', 'CN=foo,O=bar'],
    ['T-04 case-folded', 'SPIFFE://Cluster.Local/ns/analytics/sa/analytics'],
    ['T-05 dot segments', 'spiffe://cluster.local/ns/a/../sa/admin'],
    ['T-05 empty segment', 'spiffe://cluster.local/ns/a//sa/b'],
    ['T-05 trailing slash', 'spiffe://cluster.local/ns/a/sa/b/'],
    ['T-06 percent-encoding', 'spiffe://cluster.local/ns%2Fprod/sa/x'],
    ['T-07 port', 'spiffe://cluster.local:443/ns/a/sa/b'],
    ['T-07 userinfo', 'spiffe://user@cluster.local/ns/a/sa/b'],
    ['T-07 query', 'spiffe://cluster.local/ns/a/sa/b?x=1'],
    ['T-07 non-ASCII', 'spiffe://cluster.local/ns/é/sa/b'],
    ['T-08 Envoy substitution', 'spiffe://cluster.local/ns/a!/sa/b'],
    ['T-09 over 2048 bytes', `spiffe://cluster.local/${'a'.repeat(2050)}`],
  ])('%s is not a SPIFFE identity: spiffe_id null, never authenticated', (_name, principal) => {
    expect(buildIdentities(attributes({ principal }), options).source).toMatchObject({ principal, spiffe_id: null, authenticated: false, local: false });
  });

  it('an ID of the trust domain alone is a SPIFFE ID but not a workload, so not authenticated', () => {
    expect(buildIdentities(attributes({ principal: 'spiffe://cluster.local' }), options).source).toMatchObject({ spiffe_id: 'spiffe://cluster.local', path: '', authenticated: false });
  });

  it('a non-Istio path keeps namespace and service_account null', () => {
    expect(buildIdentities(attributes({ principal: 'spiffe://cluster.local/payments/mysql' }), options).source).toMatchObject({ namespace: null, service_account: null, authenticated: true });
    expect(buildIdentities(attributes({ principal: 'spiffe://cluster.local/ns/a/sa/b/extra' }), options).source).toMatchObject({ namespace: null, service_account: null });
  });

  it('answers the same for a principal seen before (its parse is cached), with a fresh block each time', () => {
    const first = buildIdentities(attributes({ principal: ANALYTICS }), options).source;
    first.authenticated = false;
    first.namespace = 'changed';
    const again = buildIdentities(attributes({ principal: ANALYTICS }), options).source;
    expect(again).not.toBe(first);
    expect(again).toMatchObject({ spiffe_id: ANALYTICS, namespace: 'analytics', authenticated: true });
    // the same principal under other trust-domain settings: local and authenticated are decided per call
    const federatedOnly = { ...options, trustDomains: createTrustDomains({ local: 'other.example', federated: ['cluster.local'] }) };
    expect(buildIdentities(attributes({ principal: ANALYTICS }), federatedOnly).source).toMatchObject({ local: false, authenticated: true });
    const foreign = { ...options, trustDomains: createTrustDomains({ local: 'other.example' }) };
    expect(buildIdentities(attributes({ principal: ANALYTICS }), foreign).source).toMatchObject({ local: false, authenticated: false });
  });

  it('stays right after more distinct principals than the cache holds', () => {
    const principals = Array.from({ length: 5000 }, (_, i) => (i % 3 === 2 ? `CN=workload-${i}` : `spiffe://cluster.local/ns/ns-${i}/sa/sa-${i}`));
    for (const round of [1, 2]) {
      for (const [i, principal] of principals.entries()) {
        const source = buildIdentities(attributes({ principal }), options).source;
        if (i % 3 === 2) expect(source.spiffe_id, `round ${round}`).toBeNull();
        else expect(source, `round ${round}`).toMatchObject({ spiffe_id: principal, namespace: `ns-${i}`, service_account: `sa-${i}` });
      }
    }
  });
});

describe('T-15, T-16, T-17: x-forwarded-client-cert', () => {
  const forged = `By=${DATA};URI=${ANALYTICS}`;

  it('is ignored unless enabled, whatever it says', () => {
    const { source } = buildIdentities(attributes({ principal: '' }, { 'x-forwarded-client-cert': forged, 'x-spiffe-id': ANALYTICS }), options);
    expect(source).toMatchObject({ principal: '', spiffe_id: null, authenticated: false, via: null });
  });

  it('when enabled, never overrides an mTLS principal', () => {
    const { source } = buildIdentities(attributes({ principal: 'spiffe://cluster.local/ns/test/sa/default' }, { 'x-forwarded-client-cert': forged }), withXfcc);
    expect(source).toMatchObject({ principal: 'spiffe://cluster.local/ns/test/sa/default', via: 'mtls' });
  });

  it('when enabled and there is no mTLS principal, takes the last element (the one this hop appended)', () => {
    const header = `By=x;URI=spiffe://cluster.local/ns/forged/sa/admin,By=${DATA};Hash=20af;Subject="";URI=${ANALYTICS}`;
    const { source } = buildIdentities(attributes({ principal: '' }, { 'x-forwarded-client-cert': header }), withXfcc);
    expect(source).toMatchObject({ principal: ANALYTICS, spiffe_id: ANALYTICS, authenticated: true, via: 'xfcc' });
  });

  it.each([
    ['several URIs', `By=${DATA};URI=${ANALYTICS};URI=spiffe://cluster.local/ns/x/sa/y`],
    ['an empty URI', `By=${DATA};URI=`],
    ['no URI', `By=${DATA};Hash=00`],
    ['an unterminated quote', `By=${DATA};Subject="CN=a;URI=${ANALYTICS}`],
  ])('when enabled, %s means no identity, and the problem is reported for the log', (_name, header) => {
    const identities = buildIdentities(attributes({ principal: '' }, { 'x-forwarded-client-cert': header }), withXfcc);
    expect(identities.source).toMatchObject({ principal: '', authenticated: false, via: null });
    expect(identities.problems).toHaveLength(1);
    expect(identities.problems[0]).toMatch(/^x-forwarded-client-cert ignored: /);
  });

  it('a quoted subject with , ; = does not confuse the parser', () => {
    const header = `By=${DATA};Subject="CN=a,b;c=d";URI=${ANALYTICS}`;
    expect(buildIdentities(attributes({ principal: '' }, { 'x-forwarded-client-cert': header }), withXfcc).source).toMatchObject({ principal: ANALYTICS, via: 'xfcc' });
  });
});

describe('peer certificate (include_peer_certificate)', () => {
  let single: string;
  let twoUris: string;
  let otherUri: string;
  let dnsOnly: string;

  beforeAll(async () => {
    single = await envoyCertificate({ uris: [ANALYTICS], dns: ['analytics.example'] });
    twoUris = await envoyCertificate({ uris: [ANALYTICS, 'spiffe://cluster.local/ns/x/sa/admin'] });
    otherUri = await envoyCertificate({ uris: ['spiffe://cluster.local/ns/x/sa/y'] });
    dnsOnly = await envoyCertificate({ dns: [ANALYTICS], subject: 'CN=analytics' });
  });

  it('exposes subject, issuer, serial, validity, SANs and fingerprint; one URI SAN equal to the principal keeps it authenticated', () => {
    const { source } = buildIdentities(attributes({ principal: ANALYTICS, certificate: single }), options);
    expect(source.authenticated).toBe(true);
    expect(source.certificate).toMatchObject({ uri_sans: [ANALYTICS], dns_sans: ['analytics.example'], issuer: expect.stringContaining('CN=meshwarden test CA') });
    expect(source.certificate!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(source.certificate!.not_after)).toBeGreaterThan(Date.parse(source.certificate!.not_before));
    expect(source.certificate!.serial).toMatch(/^[0-9A-F]+$/);
  });

  it('T-19: a certificate with two URI SANs is not an X509-SVID, so not authenticated', () => {
    expect(buildIdentities(attributes({ principal: ANALYTICS, certificate: twoUris }), options).source).toMatchObject({ authenticated: false, spiffe_id: ANALYTICS });
  });

  it('T-20: a principal that does not match the URI SAN (e.g. a DNS SAN spelled spiffe://) is not authenticated', () => {
    expect(buildIdentities(attributes({ principal: ANALYTICS, certificate: otherUri }), options).source.authenticated).toBe(false);
    expect(buildIdentities(attributes({ principal: ANALYTICS, certificate: dnsOnly }), options).source.authenticated).toBe(false);
  });

  it('T-18: a malformed, truncated or chained certificate is ignored and reported, never a crash', async () => {
    const chain = encodeURIComponent((await leafPem({ uris: [ANALYTICS] })) + (await leafPem({ uris: [ANALYTICS] })));
    for (const certificate of ['not a certificate', '%E0%A4%A', single.slice(0, single.length / 2), chain]) {
      const identities = buildIdentities(attributes({ principal: ANALYTICS, certificate }), options);
      expect(identities.source.authenticated).toBe(false);
      expect(identities.source.certificate).toBeUndefined();
      expect(identities.problems[0]).toMatch(/^peer certificate ignored: /);
    }
  });

  it('parses each distinct certificate once (cached) and returns the same result', () => {
    expect(parseCertificate(single)).toBe(parseCertificate(single));
  });
});

describe('the identity caches are bounded in bytes (issue 13 item 3)', () => {
  it('1,000 distinct 1 MiB principals are parsed and denied, and none of them is kept', () => {
    const before = identityCacheUsage().principals;
    for (let i = 0; i < 1000; i++) {
      const principal = `spiffe://cluster.local/ns/${i}/sa/` + 'a'.repeat(1024 * 1024);
      const source = buildIdentities(attributes({ principal }), options).source;
      expect(source.authenticated).toBe(false);
    }
    const after = identityCacheUsage().principals;
    expect(after.bytes).toBeLessThanOrEqual(IDENTITY_CACHE_MAX_BYTES);
    expect(after.bytes - before.bytes).toBe(0);
  });

  it('many distinct valid principals fill the cache only up to its byte bound', () => {
    for (let i = 0; i < 20_000; i++) buildIdentities(attributes({ principal: `spiffe://cluster.local/ns/n${i}/sa/` + 'b'.repeat(1500) }), options);
    const usage = identityCacheUsage().principals;
    expect(usage.bytes).toBeLessThanOrEqual(IDENTITY_CACHE_MAX_BYTES);
    expect(usage.entries).toBeGreaterThan(100);
    // A known principal is still answered from the cache and still right.
    expect(buildIdentities(attributes({ principal: ANALYTICS }), options).source.namespace).toBe('analytics');
  });

  it('100 distinct 1 MiB certificates are reported as problems and none of them is kept', () => {
    const before = identityCacheUsage().certificates;
    for (let i = 0; i < 100; i++) {
      const parsed = parseCertificate(`${i}-----BEGIN%20CERTIFICATE-----%0A` + 'A'.repeat(1024 * 1024) + '%0A-----END%20CERTIFICATE-----%0A');
      expect('problem' in parsed).toBe(true);
    }
    const after = identityCacheUsage().certificates;
    expect(after.bytes).toBeLessThanOrEqual(IDENTITY_CACHE_MAX_BYTES);
    expect(after.bytes - before.bytes).toBe(0);
  });
});

describe('source identity from a configured metadata path (--source-principal-metadata)', () => {
  const withMetadata: IdentityOptions = { ...options, xfcc: true, metadataPrincipal: { namespace: 'meshwarden.peer', keys: ['source_principal'] } };
  const fromMetadata = (value: unknown, source: Partial<NonNullable<Attributes['source']>> = {}, headers: Record<string, string> = {}): Attributes => ({
    ...attributes(source, headers),
    metadataContext: { filterMetadata: { 'meshwarden.peer': { source_principal: value } } },
  });

  it('takes the principal from the metadata when source.principal is empty: authenticated, via metadata', () => {
    const { source, refusal } = buildIdentities(fromMetadata(ANALYTICS), withMetadata);
    expect(refusal).toBeUndefined();
    expect(source).toMatchObject({ principal: ANALYTICS, spiffe_id: ANALYTICS, namespace: 'analytics', authenticated: true, via: 'metadata' });
  });

  it('never when source.principal is set: the mTLS principal wins, and a malformed value is not even read', () => {
    expect(buildIdentities(fromMetadata(DATA, { principal: ANALYTICS }), withMetadata).source).toMatchObject({ principal: ANALYTICS, via: 'mtls' });
    expect(buildIdentities(fromMetadata(42, { principal: ANALYTICS }), withMetadata).refusal).toBeUndefined();
  });

  it('is off unless configured', () => {
    expect(buildIdentities(fromMetadata(ANALYTICS), options).source).toMatchObject({ principal: '', authenticated: false, via: null });
  });

  it('a foreign trust domain is read but not authenticated', () => {
    expect(buildIdentities(fromMetadata('spiffe://evil.example/ns/a/sa/a'), withMetadata).source).toMatchObject({ trust_domain: 'evil.example', authenticated: false, via: 'metadata' });
  });

  it('a malformed value refuses the check and lets no other source stand in (not XFCC)', () => {
    const identities = buildIdentities(fromMetadata('-', {}, { 'x-forwarded-client-cert': `By=${DATA};URI=${ANALYTICS}` }), withMetadata);
    expect(identities.refusal).toContain('not a SPIFFE ID');
    expect(identities.source).toMatchObject({ principal: '', authenticated: false });
  });

  it('absent metadata leaves the opt-in sources that follow (XFCC here) to speak', () => {
    const found = buildIdentities({ ...attributes({}, { 'x-forwarded-client-cert': `By=${DATA};URI=${ANALYTICS}` }) }, withMetadata);
    expect(found.refusal).toBeUndefined();
    expect(found.source).toMatchObject({ principal: ANALYTICS, via: 'xfcc' });
  });
});
