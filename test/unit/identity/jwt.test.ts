// src/identity/jwt.ts: end-user JWT verdicts (input.jwt), JWT-SVIDs (reference S-3, T-35), bearer lookup (T-14),
// with real tokens signed by jose and keys from files or a local JWKS server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attributes } from '../../../src/envoy/types.js';
import { createTokenVerifier, findBearerToken, jwtKeysOf, verifyRequestTokens, type TokenFindings, type TokenVerifier } from '../../../src/identity/jwt.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';
import {
  createSigningKey,
  hmacToken,
  jwksOf,
  signToken,
  spiffeBundleOf,
  startJwksServer,
  unsecuredToken,
  writeJsonFile,
  type JwksServer,
  type SigningKey,
} from '../../helpers/jwt.js';

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'data-api';
const SVID_AUDIENCE = 'spiffe://cluster.local/ns/data/sa/data';
const ANALYTICS = 'spiffe://cluster.local/ns/analytics/sa/analytics';
const trustDomains = createTrustDomains({ local: 'cluster.local', federated: ['partner.example'] });

let issuerKey: SigningKey;
let otherKey: SigningKey;
let svidKey: SigningKey;
let remoteKey: SigningKey;
let verifier: TokenVerifier;
let jwksServer: JwksServer;

beforeAll(async () => {
  [issuerKey, otherKey, svidKey, remoteKey] = await Promise.all([
    createSigningKey('issuer-1'),
    createSigningKey('issuer-1'), // same kid, different key: a forged signature
    createSigningKey('svid-1', 'RS256'),
    createSigningKey('remote-1', 'PS256'),
  ]);
  jwksServer = await startJwksServer(jwksOf(remoteKey));
  verifier = createTokenVerifier(
    {
      jwtIssuers: [
        { issuer: ISSUER, keys: { file: writeJsonFile(jwksOf(issuerKey)) }, audiences: [AUDIENCE, 'other-api'] },
        { issuer: 'https://remote.example', keys: { uri: jwksServer.url }, audiences: [AUDIENCE] },
      ],
      jwtSvid: { audience: SVID_AUDIENCE, keys: { file: writeJsonFile(spiffeBundleOf(svidKey)) } },
    },
    trustDomains,
  )!;
});

afterAll(async () => {
  await jwksServer.close();
});

function attributesWith(headers: Record<string, string>, principal = ''): Attributes {
  return { source: { principal }, request: { http: { method: 'GET', path: '/', headers } } };
}

async function findings(headers: Record<string, string>, principal = '', budgetMs = 2_000, using = verifier): Promise<TokenFindings | undefined> {
  return verifyRequestTokens(attributesWith(headers, principal), using, budgetMs);
}

async function jwtOf(token: string): Promise<unknown> {
  return (await findings({ authorization: `Bearer ${token}` }, ANALYTICS))?.jwt;
}

const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'alice' };

describe('end-user JWTs (input.jwt)', () => {
  it('a valid token gives issuer, subject, audiences and claims', async () => {
    const token = await signToken(issuerKey, { ...claims, aud: ['other-api', 'x'], role: 'admin' });
    const jwt = (await jwtOf(token)) as Record<string, unknown>;
    expect(jwt).toMatchObject({ valid: true, issuer: ISSUER, subject: 'alice', audiences: ['other-api', 'x'] });
    expect(jwt['claims']).toMatchObject({ iss: ISSUER, sub: 'alice', role: 'admin' });
  });

  it('keys from a JWKS URL are fetched once and cached', async () => {
    const token = await signToken(remoteKey, { ...claims, iss: 'https://remote.example' });
    expect(await jwtOf(token)).toMatchObject({ valid: true, issuer: 'https://remote.example' });
    const fetched = jwksServer.requests;
    expect(await jwtOf(token)).toMatchObject({ valid: true });
    expect(jwksServer.requests).toBe(fetched);
  });

  it.each<[string, () => Promise<string>, string]>([
    ['expired', () => signToken(issuerKey, claims, { expiresIn: -3600 }), 'expired'],
    ['not yet valid', () => signToken(issuerKey, { ...claims, nbf: Math.floor(Date.now() / 1000) + 3600 }), 'not_yet_valid'],
    ['bad signature (another key, same kid)', () => signToken(otherKey, claims), 'bad_signature'],
    ['a kid the issuer does not have', () => signToken(issuerKey, claims, { header: { kid: 'unknown' } }), 'bad_signature'],
    ['unknown issuer', () => signToken(issuerKey, { ...claims, iss: 'https://evil.example' }), 'unknown_issuer'],
    ['no issuer', () => signToken(issuerKey, { aud: AUDIENCE, sub: 'alice' }), 'unknown_issuer'],
    ['wrong audience', () => signToken(issuerKey, { ...claims, aud: 'billing-api' }), 'bad_audience'],
    ['missing kid', () => signToken(issuerKey, claims, { header: { kid: undefined } }), 'malformed'],
    ['missing exp', () => signToken(issuerKey, claims, { expiresIn: null }), 'malformed'],
    ['alg none', async () => unsecuredToken(claims, 'issuer-1'), 'bad_signature'],
    ['HS256', () => hmacToken(claims, 'issuer-1'), 'bad_signature'],
    ['malformed: not a JWT', async () => 'not-a-jwt', 'malformed'],
    ['malformed: bad base64 in the header', async () => 'e30.!!!.sig', 'malformed'],
    ['malformed: JSON serialisation', async () => '{"payload":"e30"}', 'malformed'],
    // a comma could be Envoy joining two headers, so it is never read as one token
    ['JSON serialisation with a comma', async () => '{"payload":"e30","signatures":[]}', 'ambiguous'],
  ])('%s → invalid (%s)', async (_name, make, reason) => {
    expect(await jwtOf(await make())).toEqual({ valid: false, reason });
  });

  it('T-14: two Authorization headers joined by Envoy are ambiguous, never first or last', async () => {
    const good = await signToken(issuerKey, claims);
    for (const value of [`Bearer ${good},Bearer ${good}`, `Bearer ${good},Bearer x`, `Bearer x,Bearer ${good}`, `Basic YTpi,Bearer ${good}`]) {
      expect((await findings({ authorization: value }, ANALYTICS))?.jwt).toEqual({ valid: false, reason: 'ambiguous' });
    }
    // two keys differing in case, and two raw header_map entries
    expect((await findings({ authorization: `Bearer ${good}`, Authorization: `Bearer ${good}` }, ANALYTICS))?.jwt).toEqual({ valid: false, reason: 'ambiguous' });
    const attributes: Attributes = {
      source: { principal: ANALYTICS },
      request: { http: { headerMap: { headers: [{ key: 'authorization', rawValue: Buffer.from(`Bearer ${good}`).toString('base64') }, { key: 'Authorization', value: `Bearer ${good}` }] } } },
    };
    expect((await verifyRequestTokens(attributes, verifier, 2_000))?.jwt).toEqual({ valid: false, reason: 'ambiguous' });
  });

  it('looks the header up case-insensitively, and the scheme too', async () => {
    const token = await signToken(issuerKey, claims);
    expect((await findings({ Authorization: `bearer ${token}` }, ANALYTICS))?.jwt).toMatchObject({ valid: true });
  });

  it('no token, or a non-bearer credential: no verification at all (the synchronous path)', () => {
    expect(verifyRequestTokens(attributesWith({}), verifier, 100)).toBeUndefined();
    expect(verifyRequestTokens(attributesWith({ authorization: 'Basic YTpi' }), verifier, 100)).toBeUndefined();
    expect(verifyRequestTokens(attributesWith({ authorization: 'Bearer x' }), undefined, 100)).toBeUndefined();
    expect(findBearerToken({ headers: { authorization: 'Bearer' } }, 'authorization')).toEqual({ reason: 'malformed' });
  });

  it('keys that cannot be had in time give keys_unavailable within the budget', async () => {
    const hanging = await startJwksServer(jwksOf(remoteKey));
    hanging.hang();
    const down = await startJwksServer(jwksOf(remoteKey));
    const downUrl = down.url;
    await down.close();
    const slow = createTokenVerifier(
      {
        jwtIssuers: [
          { issuer: 'https://hang.example', keys: { uri: hanging.url }, audiences: [AUDIENCE] },
          { issuer: 'https://down.example', keys: { uri: downUrl }, audiences: [AUDIENCE] },
        ],
      },
      trustDomains,
    );
    try {
      const started = Date.now();
      const hung = await findings({ authorization: `Bearer ${await signToken(remoteKey, { ...claims, iss: 'https://hang.example' })}` }, ANALYTICS, 150, slow);
      expect(hung?.jwt).toEqual({ valid: false, reason: 'keys_unavailable' });
      expect(Date.now() - started).toBeLessThan(1_000);
      const refused = await findings({ authorization: `Bearer ${await signToken(remoteKey, { ...claims, iss: 'https://down.example' })}` }, ANALYTICS, 2_000, slow);
      expect(refused?.jwt).toEqual({ valid: false, reason: 'keys_unavailable' });
    } finally {
      await hanging.close();
    }
  });
});

describe('key rotation: reloadKeyFiles (SIGHUP)', () => {
  it('reads the key files again; a file no longer usable keeps its last good keys', async () => {
    const [oldKey, newKey, svidOld, svidNew] = await Promise.all([createSigningKey('k-old'), createSigningKey('k-new'), createSigningKey('s-old'), createSigningKey('s-new')]);
    const issuerFile = writeJsonFile(jwksOf(oldKey));
    const bundleFile = writeJsonFile(spiffeBundleOf(svidOld));
    const rotating = createTokenVerifier(
      { jwtIssuers: [{ issuer: ISSUER, keys: { file: issuerFile }, audiences: [AUDIENCE] }], jwtSvid: { audience: SVID_AUDIENCE, keys: { file: bundleFile } } },
      trustDomains,
    )!;
    const valid = async (key: SigningKey): Promise<unknown> =>
      ((await findings({ authorization: `Bearer ${await signToken(key, claims)}` }, ANALYTICS, 2_000, rotating))?.jwt as { valid: boolean }).valid;
    const svid = async (key: SigningKey): Promise<string | undefined> =>
      (await findings({ authorization: `Bearer ${await signToken(key, { sub: ANALYTICS, aud: SVID_AUDIENCE })}` }, '', 2_000, rotating))?.svid;

    expect([await valid(oldKey), await valid(newKey), await svid(svidOld), await svid(svidNew)]).toEqual([true, false, ANALYTICS, undefined]);
    writeJsonFile(jwksOf(newKey), issuerFile.split('/').pop());
    writeJsonFile(spiffeBundleOf(svidNew), bundleFile.split('/').pop());
    // nothing changes until the files are read again
    expect([await valid(oldKey), await valid(newKey)]).toEqual([true, false]);
    expect(rotating.reloadKeyFiles()).toEqual([]);
    expect([await valid(oldKey), await valid(newKey), await svid(svidOld), await svid(svidNew)]).toEqual([false, true, undefined, ANALYTICS]);
    // a broken or emptied file is reported and the keys in use stay
    writeJsonFile('{"keys": [', issuerFile.split('/').pop());
    writeJsonFile({ keys: [] }, bundleFile.split('/').pop());
    const problems = rotating.reloadKeyFiles();
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain(issuerFile);
    expect(problems[1]).toContain('holds no keys usable for JWTs');
    expect([await valid(newKey), await svid(svidNew)]).toEqual([true, ANALYTICS]);
  });

  it('has nothing to read for keys fetched from a URL', () => {
    const remoteOnly = createTokenVerifier({ jwtIssuers: [{ issuer: 'https://remote.example', keys: { uri: jwksServer.url }, audiences: [AUDIENCE] }] }, trustDomains)!;
    expect(remoteOnly.reloadKeyFiles()).toEqual([]);
  });
});

describe('JWT-SVIDs (reference S-3, T-35)', () => {
  const svidClaims = { sub: ANALYTICS, aud: [SVID_AUDIENCE, 'spiffe://cluster.local/ns/other/sa/x'] };

  async function svidOf(token: string, principal = ''): Promise<TokenFindings | undefined> {
    return findings({ authorization: `Bearer ${token}` }, principal);
  }

  it('a valid JWT-SVID gives its SPIFFE ID (several audiences, ours among them)', async () => {
    const result = await svidOf(await signToken(svidKey, svidClaims, { header: { typ: 'JWT' } }));
    expect(result?.svid).toBe(ANALYTICS);
    expect(result?.problems).toEqual([]);
    expect((await svidOf(await signToken(svidKey, { ...svidClaims, sub: 'spiffe://cluster.local/ns/a/sa/b' }, { header: { typ: 'JOSE' } })))?.svid).toBe('spiffe://cluster.local/ns/a/sa/b');
  });

  it("verifies each trust domain's JWT-SVIDs with that trust domain's bundle only", async () => {
    const partnerKey = await createSigningKey('partner-1');
    const PARTNER = 'spiffe://partner.example/ns/a/sa/b';
    const federated = createTokenVerifier(
      {
        jwtSvid: {
          audience: SVID_AUDIENCE,
          keys: { file: writeJsonFile(spiffeBundleOf(svidKey)) },
          federated: [{ trustDomain: 'partner.example', keys: { file: writeJsonFile(spiffeBundleOf(partnerKey)) } }],
        },
      },
      trustDomains,
    )!;
    const outcome = async (key: SigningKey, sub: string, using = federated): Promise<string | undefined> => {
      const result = await findings({ authorization: `Bearer ${await signToken(key, { ...svidClaims, sub })}` }, '', 2_000, using);
      return result?.svid ?? result?.svidRejected;
    };
    expect(await outcome(partnerKey, PARTNER)).toBe(PARTNER);
    expect(await outcome(svidKey, ANALYTICS)).toBe(ANALYTICS);
    // the local authority cannot vouch for a partner's workload, nor the partner's for ours
    expect(await outcome(svidKey, PARTNER)).toBe('bad_signature');
    expect(await outcome(partnerKey, ANALYTICS)).toBe('bad_signature');
    // without a bundle for the partner, its JWT-SVIDs are not accepted, whoever signed them
    expect(await outcome(svidKey, PARTNER, verifier)).toBe('unknown_issuer');
    expect(await outcome(partnerKey, PARTNER, verifier)).toBe('unknown_issuer');
    // a trust domain that is not accepted at all: malformed, as before
    expect(await outcome(svidKey, 'spiffe://evil.example/ns/a/sa/b')).toBe('malformed');
  });

  it('is not consulted when there is an mTLS principal', async () => {
    const token = await signToken(svidKey, svidClaims);
    const result = await svidOf(token, 'spiffe://cluster.local/ns/test/sa/default');
    expect(result?.svid).toBeUndefined();
    const svidOnly = createTokenVerifier({ jwtSvid: { audience: SVID_AUDIENCE, keys: { file: writeJsonFile(spiffeBundleOf(svidKey)) } } }, trustDomains);
    expect(verifyRequestTokens(attributesWith({ authorization: `Bearer ${token}` }, ANALYTICS), svidOnly, 100)).toBeUndefined();
  });

  it.each<[string, () => Promise<string>]>([
    ['sub not a SPIFFE ID', () => signToken(svidKey, { ...svidClaims, sub: 'analytics' })],
    ['sub a non-canonical SPIFFE ID', () => signToken(svidKey, { ...svidClaims, sub: 'spiffe://Cluster.Local/ns/analytics/sa/analytics' })],
    ['sub a trust domain only', () => signToken(svidKey, { ...svidClaims, sub: 'spiffe://cluster.local' })],
    ['sub in a foreign trust domain', () => signToken(svidKey, { ...svidClaims, sub: 'spiffe://evil.example/ns/analytics/sa/analytics' })],
    ['missing aud', () => signToken(svidKey, { sub: ANALYTICS })],
    ['another audience', () => signToken(svidKey, { ...svidClaims, aud: 'spiffe://cluster.local/ns/other/sa/x' })],
    ['missing exp', () => signToken(svidKey, svidClaims, { expiresIn: null })],
    ['expired', () => signToken(svidKey, svidClaims, { expiresIn: -3600 })],
    ['typ not JWT/JOSE', () => signToken(svidKey, svidClaims, { header: { typ: 'at+jwt' } })],
    ['extra JOSE header parameter', () => signToken(svidKey, svidClaims, { header: { jku: 'https://evil.example/jwks' } })],
    ['missing kid', () => signToken(svidKey, svidClaims, { header: { kid: undefined } })],
    ['alg none', async () => unsecuredToken(svidClaims, 'svid-1')],
    ['HS256', () => hmacToken(svidClaims, 'svid-1')],
    ['signed by a key outside the bundle', () => signToken(otherKey, svidClaims, { header: { kid: 'svid-1' } })],
    ['JSON serialisation', async () => '{"protected":"e30"}'],
  ])('rejects: %s', async (_name, make) => {
    const result = await svidOf(await make());
    expect(result?.svid).toBeUndefined();
    expect(result?.problems.join()).toMatch(/^JWT-SVID ignored: [a-z_]+$/);
  });

  it('a SPIFFE bundle yields only its jwt-svid keys', () => {
    const bundle = { spiffe_sequence: 2, keys: [{ kty: 'EC', use: 'x509-svid', x5c: ['x'] }, { kty: 'EC', kid: 'a', use: 'jwt-svid' }] };
    expect(jwtKeysOf(bundle)).toEqual({ keys: [{ kty: 'EC', kid: 'a' }] });
    expect(jwtKeysOf({ keys: [{ kty: 'EC', kid: 'a', use: 'enc' }, { kty: 'EC', kid: 'b', use: 'sig' }] })).toEqual({ keys: [{ kty: 'EC', kid: 'b' }] });
  });
});
