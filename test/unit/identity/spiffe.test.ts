// src/identity/spiffe.ts: SPIFFE ID grammar (reference §3 S-1, S-4 rows 1-25), lookalikes (§6 T-03..T-10), Istio shape and trust-domain sets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import {
  MAX_SPIFFE_ID_BYTES,
  MAX_TRUST_DOMAIN_BYTES,
  SpiffeIdError,
  createTrustDomains,
  isSpiffeIdError,
  istioIdentity,
  parseSpiffeId,
  pathHasPrefix,
  sameTrustDomain,
  validateTrustDomain,
  type SpiffeId,
  type SpiffeIdErrorCode,
} from '../../../src/identity/spiffe.js';

/** The parsed ID, or the test fails with the parser's reason. */
function valid(text: string): SpiffeId {
  const result = parseSpiffeId(text);
  if (isSpiffeIdError(result)) throw new Error(`expected ${JSON.stringify(text)} to be valid, got ${result.code}: ${result.message}`);
  return result;
}

/** The error code, or 'valid'. */
function codeOf(text: string): SpiffeIdErrorCode | 'valid' {
  const result = parseSpiffeId(text);
  return isSpiffeIdError(result) ? result.code : 'valid';
}

const TD = 'spiffe://trustdomain';

describe('parseSpiffeId: S-4 example verdicts', () => {
  // [row, input, trust domain, path]
  it.each<[string, string, string, string]>([
    ['#1', 'spiffe://trustdomain/path', 'trustdomain', '/path'],
    ['#2 (path optional)', 'spiffe://trustdomain', 'trustdomain', ''],
    ['#3', 'spiffe://staging.example.com/payments/mysql', 'staging.example.com', '/payments/mysql'],
    ['#4', 'spiffe://k8s-west.example.com/ns/staging/sa/default', 'k8s-west.example.com', '/ns/staging/sa/default'],
    ['#5', 'spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453', 'example.com', '/9eebccd2-12bf-40a6-b262-65fe0487d453'],
    ['#6 (.path)', 'spiffe://trustdomain/.path', 'trustdomain', '/.path'],
    ['#6 (..path)', 'spiffe://trustdomain/..path', 'trustdomain', '/..path'],
    ['#6 (...)', 'spiffe://trustdomain/...', 'trustdomain', '/...'],
    ['#7 (uppercase path)', 'spiffe://trustdomain/Upper_Case-1.x', 'trustdomain', '/Upper_Case-1.x'],
    ['#8 (_ in trust domain)', 'spiffe://trust_domain_name.example.com/x', 'trust_domain_name.example.com', '/x'],
    ['#9 (IPv4)', 'spiffe://192.168.1.1/x', '192.168.1.1', '/x'],
  ])('S-4 %s: %s is valid', (_row, input, trustDomain, path) => {
    const id = valid(input);
    expect(id).toEqual({ id: input, trustDomain, path, segments: path === '' ? [] : path.slice(1).split('/') });
  });

  it('S-4 #2: a trust-domain-only ID has no segments and is no Istio workload identity', () => {
    const id = valid('spiffe://trustdomain');
    expect(id.segments).toEqual([]);
    expect(istioIdentity(id)).toBeUndefined();
  });

  it.each<[string, string, SpiffeIdErrorCode]>([
    ['#10 (empty)', '', 'empty'],
    ['#11', 's', 'bad_scheme'],
    ['#11', 'spiffe:/', 'bad_scheme'],
    ['#11', 'spiffe:/trustdomain/path', 'bad_scheme'],
    ['#11', 'Spiffe://trustdomain/path', 'bad_scheme'],
    ['#11', 'SPIFFE://trustdomain/path', 'bad_scheme'],
    ['#11', 'spiffe:trustdomain/path', 'bad_scheme'],
    ['#11', 'https://trustdomain/path', 'bad_scheme'],
    ['#11', ' spiffe://trustdomain/path', 'bad_scheme'],
    ['#12', 'spiffe://', 'missing_trust_domain'],
    ['#12', 'spiffe:///', 'missing_trust_domain'],
    ['#12', 'spiffe:///path', 'missing_trust_domain'],
    ['#13 (uppercase trust domain)', 'spiffe://TrustDomain/path', 'bad_trust_domain_char'],
    ['#14', 'spiffe://trustdomain/', 'trailing_slash'],
    ['#14', 'spiffe://trustdomain/path/', 'trailing_slash'],
    ['#15', 'spiffe://trustdomain//', 'empty_segment'],
    ['#15', 'spiffe://trustdomain//path', 'empty_segment'],
    ['#15', 'spiffe://trustdomain/path//other', 'empty_segment'],
    ['#16', `${TD}/.`, 'dot_segment'],
    ['#16', `${TD}/./path`, 'dot_segment'],
    ['#16', `${TD}/path/./other`, 'dot_segment'],
    ['#16', `${TD}/path/..`, 'dot_segment'],
    ['#16', `${TD}/..`, 'dot_segment'],
    ['#16', `${TD}/../path`, 'dot_segment'],
    ['#16', `${TD}/path/../other`, 'dot_segment'],
    ['#17', 'spiffe://%62%61%64/path', 'percent_encoding'],
    ['#17', 'spiffe://trustdomain/%62%61%64', 'percent_encoding'],
    ['#17', 'spiffe://%F0%9F%A4%AF/path', 'percent_encoding'],
    ['#18', 'spiffe://trust$domain', 'bad_trust_domain_char'],
    ['#18', 'spiffe://trustdomain/path$', 'bad_path_char'],
    ['#19 (port)', 'spiffe://trustdomain:8080/p', 'bad_trust_domain_char'],
    ['#20 (userinfo)', 'spiffe://user@trustdomain/p', 'bad_trust_domain_char'],
    ['#21 (query)', 'spiffe://trustdomain/p?x=1', 'query_or_fragment'],
    ['#21 (fragment)', 'spiffe://trustdomain/p#frag', 'query_or_fragment'],
    ['#21 (query after the trust domain)', 'spiffe://trustdomain?x=1', 'query_or_fragment'],
    ['#21 (fragment after the trust domain)', 'spiffe://trustdomain#frag', 'query_or_fragment'],
    ['#22 (IPv6)', 'spiffe://[::1]/p', 'bad_trust_domain_char'],
    ['#23 (é in the trust domain)', 'spiffe://trustdomé/p', 'bad_trust_domain_char'],
    ['#23 (é in the path)', 'spiffe://trustdomain/pé', 'bad_path_char'],
    ['#23 (space in the trust domain)', 'spiffe://trust domain/p', 'bad_trust_domain_char'],
    ['#23 (space in the path)', 'spiffe://trustdomain/pa th', 'bad_path_char'],
    ['#23 (NUL in the trust domain)', 'spiffe://trust\0domain/p', 'bad_trust_domain_char'],
    ['#23 (NUL in the path)', 'spiffe://trustdomain/pa\0th', 'bad_path_char'],
    ['#24 (! in the trust domain)', 'spiffe://trust!domain/p', 'bad_trust_domain_char'],
    ['#24 (! in the path)', 'spiffe://trustdomain/pa!th', 'bad_path_char'],
    ['#24 (! in the scheme)', 'spiffe!//trustdomain/p', 'bad_scheme'],
    ['#25 (2049 bytes)', `spiffe://td/${'a'.repeat(MAX_SPIFFE_ID_BYTES + 1 - 'spiffe://td/'.length)}`, 'too_long'],
    ['#25 (256-byte trust domain)', `spiffe://${'a'.repeat(MAX_TRUST_DOMAIN_BYTES + 1)}/p`, 'trust_domain_too_long'],
    ['#25 (256-byte trust domain, no path)', `spiffe://${'a'.repeat(MAX_TRUST_DOMAIN_BYTES + 1)}`, 'trust_domain_too_long'],
  ])('S-4 %s: %j is invalid (%s)', (_row, input, code) => {
    const result = parseSpiffeId(input);
    expect(result).toBeInstanceOf(SpiffeIdError);
    expect((result as SpiffeIdError).code).toBe(code);
    expect((result as SpiffeIdError).message).not.toBe('');
  });

  it('S-4 #23: of code points 0-255, only [a-z0-9._-] pass in a trust domain and only [A-Za-z0-9._-] in a path', () => {
    for (let point = 0; point <= 255; point++) {
      const c = String.fromCharCode(point);
      const inTrustDomain = /^[a-z0-9._-]$/.test(c);
      const inPath = /^[A-Za-z0-9._-]$/.test(c);
      // `/` is no trust-domain or segment character, but here it only ends one, leaving valid IDs.
      const slash = c === '/';
      expect(codeOf(`spiffe://trust${c}domain/path`) === 'valid', `U+${point} in a trust domain`).toBe(inTrustDomain || slash);
      expect(codeOf(`spiffe://trustdomain/pa${c}th`) === 'valid', `U+${point} in a path`).toBe(inPath || slash);
    }
  });

  it('S-4 #25: the limits themselves are accepted', () => {
    const trustDomain = 'a'.repeat(MAX_TRUST_DOMAIN_BYTES);
    expect(valid(`spiffe://${trustDomain}`).trustDomain).toBe(trustDomain);
    const head = `spiffe://${trustDomain}/`;
    const longest = head + 'b'.repeat(MAX_SPIFFE_ID_BYTES - head.length);
    expect(longest.length).toBe(MAX_SPIFFE_ID_BYTES);
    expect(valid(longest).id).toBe(longest);
    expect(codeOf(`${longest}b`)).toBe('too_long');
  });

  it('S-4 #25: under 2048 UTF-16 units but over 2048 bytes is rejected (as a bad character)', () => {
    const text = `spiffe://td/${'é'.repeat(1500)}`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_SPIFFE_ID_BYTES);
    expect(codeOf(text)).toBe('bad_path_char');
  });
});

describe('parseSpiffeId: tricky inputs (§6)', () => {
  it.each<[string, string, SpiffeIdErrorCode]>([
    ['T-03 a DNS SAN', 'foo.example.com', 'bad_scheme'],
    ['T-03 an RFC 2253 subject', 'CN=foo,O=bar', 'bad_scheme'],
    ['T-03 a subject spelling spiffe', 'CN=spiffe://cluster.local/ns/a/sa/b', 'bad_scheme'],
    ['T-04 upper-case scheme and trust domain', 'SPIFFE://Cluster.Local/ns/a/sa/b', 'bad_scheme'],
    ['T-04 upper-case trust domain', 'spiffe://Cluster.Local/ns/a/sa/b', 'bad_trust_domain_char'],
    ['T-04 one upper-case letter', 'spiffe://cluster.locaL/ns/a/sa/b', 'bad_trust_domain_char'],
    ['T-05 ..', 'spiffe://cluster.local/ns/a/../sa/admin', 'dot_segment'],
    ['T-05 .', 'spiffe://cluster.local/ns/a/./sa/b', 'dot_segment'],
    ['T-05 //', 'spiffe://cluster.local/ns/a//sa/b', 'empty_segment'],
    ['T-05 trailing /', 'spiffe://cluster.local/ns/a/sa/b/', 'trailing_slash'],
    ['T-06 %2F', 'spiffe://cluster.local/ns%2Fprod/sa/x', 'percent_encoding'],
    ['T-06 %41 in the path', 'spiffe://cluster.local/ns/%41/sa/x', 'percent_encoding'],
    ['T-06 %41 in the trust domain', 'spiffe://cluster%41local/ns/a/sa/x', 'percent_encoding'],
    ['T-06 a lone %', 'spiffe://cluster.local/ns/a%/sa/x', 'percent_encoding'],
    ['T-07 ?', 'spiffe://cluster.local/ns/a/sa/b?x', 'query_or_fragment'],
    ['T-07 #', 'spiffe://cluster.local/ns/a/sa/b#x', 'query_or_fragment'],
    ['T-07 :port', 'spiffe://cluster.local:443/ns/a/sa/b', 'bad_trust_domain_char'],
    ['T-07 user@', 'spiffe://admin@cluster.local/ns/a/sa/b', 'bad_trust_domain_char'],
    ['T-07 [::1]', 'spiffe://[::1]/ns/a/sa/b', 'bad_trust_domain_char'],
    ['T-07 a space', 'spiffe://cluster.local/ns/a /sa/b', 'bad_path_char'],
    ['T-07 NUL', 'spiffe://cluster.local/ns/a/sa/b\0', 'bad_path_char'],
    ['T-07 non-ASCII', 'spiffe://cluster.local/ns/ä/sa/b', 'bad_path_char'],
    ['T-07 a lone surrogate', 'spiffe://cluster.local/ns/a/sa/\ud800', 'bad_path_char'],
    ['T-07 a full-width letter', 'spiffe://cluster.local/ns/ａ/sa/b', 'bad_path_char'],
    ['T-07 a backslash', 'spiffe://cluster.local/ns\\a/sa/b', 'bad_path_char'],
    ['T-07 a tab', 'spiffe://cluster.local\t/ns/a/sa/b', 'bad_trust_domain_char'],
    ['T-07 a trailing newline', 'spiffe://cluster.local/ns/a/sa/b\n', 'bad_path_char'],
    ['T-08 ! (invalid UTF-8 substitute)', 'spiffe://cluster.local/ns/a/sa/b!', 'bad_path_char'],
    ['T-08 ! in the trust domain', 'spiffe://cluster.loca!/ns/a/sa/b', 'bad_trust_domain_char'],
  ])('%s: %j → %s', (_name, input, code) => {
    expect(codeOf(input)).toBe(code);
  });

  it('error messages never repeat the input', () => {
    const secret = 'spiffe://cluster.local/ns/a/sa/b?token=SECRET';
    expect((parseSpiffeId(secret) as SpiffeIdError).message).not.toContain('SECRET');
  });

  it('T-09: 2049-byte and 100k-byte principals are rejected quickly', () => {
    const just = `spiffe://cluster.local/${'a'.repeat(MAX_SPIFFE_ID_BYTES + 1 - 'spiffe://cluster.local/'.length)}`;
    expect(just.length).toBe(MAX_SPIFFE_ID_BYTES + 1);
    expect(codeOf(just)).toBe('too_long');
    const huge = `spiffe://cluster.local/${'a'.repeat(100_000)}`;
    const hugeGarbage = '\ud800'.repeat(100_000);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) {
      expect(codeOf(huge)).toBe('too_long');
      expect(codeOf(hugeGarbage)).toBe('too_long');
    }
    // The length is checked before any scan: 2000 calls are O(1) each, far below this generous bound.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('T-10: lookalike trust domains are different trust domains', () => {
    const local = valid('spiffe://cluster.local/ns/prod/sa/admin');
    expect(sameTrustDomain(local, valid('spiffe://cluster.local/x'))).toBe(true);
    expect(sameTrustDomain(local, valid('spiffe://cluster.local.evil.com/ns/prod/sa/admin'))).toBe(false);
    expect(sameTrustDomain(local, valid('spiffe://evilcluster.local/ns/prod/sa/admin'))).toBe(false);
    expect(sameTrustDomain(local, valid('spiffe://other.td/ns/prod/sa/admin'))).toBe(false);
    expect(sameTrustDomain(local, valid('spiffe://cluster.loca/ns/prod/sa/admin'))).toBe(false);
  });

  it.each<[string, string, readonly string[], boolean]>([
    ['the prefix itself', 'spiffe://cluster.local/ns/prod', ['ns', 'prod'], true],
    ['a longer path', 'spiffe://cluster.local/ns/prod/sa/admin', ['ns', 'prod'], true],
    ['the empty prefix', 'spiffe://cluster.local/ns/prod', [], true],
    ['the empty prefix on a trust-domain-only ID', 'spiffe://cluster.local', [], true],
    ['a string-prefix lookalike (production)', 'spiffe://cluster.local/ns/production/sa/admin', ['ns', 'prod'], false],
    ['a string-prefix lookalike (prod-x)', 'spiffe://cluster.local/ns/prod-x/sa/admin', ['ns', 'prod'], false],
    ['a shorter segment', 'spiffe://cluster.local/ns/pro/sa/admin', ['ns', 'prod'], false],
    ['a case variant', 'spiffe://cluster.local/ns/Prod/sa/admin', ['ns', 'prod'], false],
    ['a shorter path', 'spiffe://cluster.local/ns', ['ns', 'prod'], false],
    ['a trust-domain-only ID', 'spiffe://cluster.local', ['ns'], false],
    ['the same segments elsewhere', 'spiffe://cluster.local/x/ns/prod', ['ns', 'prod'], false],
  ])('T-10 pathHasPrefix: %s', (_name, input, prefix, expected) => {
    expect(pathHasPrefix(valid(input), prefix)).toBe(expected);
  });
});

describe('istioIdentity (istio-and-peers §5, ParseIdentity)', () => {
  it.each<[string, { namespace: string; serviceAccount: string } | undefined]>([
    ['spiffe://cluster.local/ns/payroll/sa/default', { namespace: 'payroll', serviceAccount: 'default' }],
    ['spiffe://example.org/ns/Name_Space/sa/my.sa-1', { namespace: 'Name_Space', serviceAccount: 'my.sa-1' }],
    ['spiffe://cluster.local/ns/sa/sa/ns', { namespace: 'sa', serviceAccount: 'ns' }],
    ['spiffe://cluster.local', undefined],
    ['spiffe://cluster.local/ns/payroll', undefined],
    ['spiffe://cluster.local/ns/payroll/sa', undefined],
    ['spiffe://cluster.local/ns/payroll/sa/default/extra', undefined],
    ['spiffe://cluster.local/x/ns/payroll/sa/default', undefined],
    ['spiffe://cluster.local/sa/default/ns/payroll', undefined],
    ['spiffe://cluster.local/NS/payroll/sa/default', undefined],
    ['spiffe://cluster.local/ns/payroll/SA/default', undefined],
    ['spiffe://cluster.local/namespace/payroll/sa/default', undefined],
  ])('%s → %j', (input, expected) => {
    expect(istioIdentity(valid(input))).toEqual(expected);
  });
});

describe('createTrustDomains', () => {
  it('local and aliases are local; federated ones are accepted but not local; comparison is exact', () => {
    const domains = createTrustDomains({ local: 'cluster.local', aliases: ['old.td', 'old.td'], federated: ['partner.example.com'] });
    expect(domains.local).toBe('cluster.local');
    expect(domains.aliases).toEqual(['old.td']);
    expect(domains.federated).toEqual(['partner.example.com']);
    expect([domains.isLocal('cluster.local'), domains.isAccepted('cluster.local')]).toEqual([true, true]);
    expect([domains.isLocal('old.td'), domains.isAccepted('old.td')]).toEqual([true, true]);
    expect([domains.isLocal('partner.example.com'), domains.isAccepted('partner.example.com')]).toEqual([false, true]);
    for (const lookalike of ['cluster.local.evil.com', 'evilcluster.local', 'Cluster.Local', 'cluster.local.', '', 'local', 'old.td.x', 'example.com']) {
      expect([lookalike, domains.isLocal(lookalike), domains.isAccepted(lookalike)]).toEqual([lookalike, false, false]);
    }
  });

  it('aliases and federated lists are optional', () => {
    const domains = createTrustDomains({ local: 'cluster.local' });
    expect(domains.isLocal('cluster.local')).toBe(true);
    expect(domains.isAccepted('other.td')).toBe(false);
  });

  it('lists every bad entry at once in a ConfigError', () => {
    let error: unknown;
    try {
      createTrustDomains({
        local: 'Cluster.Local',
        aliases: ['ok.td', 'spiffe://old.td', ''],
        federated: ['*', 'td:443', 'a'.repeat(256), 'ok.td'],
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(7);
    expect(problems[0]).toMatch(/local trust domain "Cluster.Local".*lowercase/);
    expect(problems[1]).toMatch(/alias\[1\] "spiffe:\/\/old.td".*without "spiffe:\/\/"/);
    expect(problems[2]).toMatch(/alias\[2\] "".*empty/);
    expect(problems[3]).toMatch(/federated trust domain\[0\] "\*"/);
    expect(problems[4]).toMatch(/federated trust domain\[1\] "td:443".*port/);
    expect(problems[5]).toMatch(/federated trust domain\[2\].*255/);
    expect(problems[6]).toMatch(/"ok.td" is both local \(or an alias\) and federated/);
  });

  it('rejects entries that are not strings (configuration from JSON)', () => {
    expect(() => createTrustDomains({ local: 42 as unknown as string, aliases: 'x' as unknown as string[] })).toThrow(ConfigError);
  });

  it('validateTrustDomain uses the ID grammar', () => {
    expect(validateTrustDomain('cluster.local')).toBeUndefined();
    expect(validateTrustDomain('192.168.1.1')).toBeUndefined();
    expect(validateTrustDomain('a'.repeat(255))).toBeUndefined();
    expect(validateTrustDomain('a'.repeat(256))?.code).toBe('trust_domain_too_long');
    expect(validateTrustDomain('')?.code).toBe('missing_trust_domain');
    expect(validateTrustDomain('cluster.local/ns')?.code).toBe('bad_trust_domain_char');
    expect(validateTrustDomain('%41')?.code).toBe('percent_encoding');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property-based tests against an independent oracle built from the spec's grammar (SPIFFE-ID.md §2):
//   spiffe-id    = "spiffe://" trust-domain [ path ]
//   trust-domain = 1*255( %x61-7A / DIGIT / "." / "-" / "_" )
//   path         = 1*( "/" segment ), segment = 1*( ALPHA / DIGIT / "." / "-" / "_" ), not "." or ".."
//   whole ID at most 2048 bytes (UTF-8)

const ORACLE = /^spiffe:\/\/[a-z0-9._-]{1,255}(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*$/;

function oracleAccepts(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') <= 2048 && ORACLE.test(text);
}

const TRUST_DOMAIN_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789', '.', '.', '-', '_'];
const PATH_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', '.', '.', '.', '-', '_'];

const trustDomainArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...TRUST_DOMAIN_CHARS), minLength: 1, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...TRUST_DOMAIN_CHARS), minLength: 250, maxLength: 260 }) },
);
const segmentArb = fc
  .string({ unit: fc.constantFrom(...PATH_CHARS), minLength: 1, maxLength: 12 })
  .filter((s) => s !== '.' && s !== '..');
const segmentsArb = fc.array(segmentArb, { maxLength: 6 });

const build = (trustDomain: string, segments: readonly string[]): string =>
  `spiffe://${trustDomain}${segments.map((s) => `/${s}`).join('')}`;

const validIdArb = fc.tuple(trustDomainArb, segmentsArb).map(([td, segments]) => build(td, segments));

/** IDs around the 2048-byte limit: a trust domain and one long segment summing to 2040..2056 bytes. */
const boundaryIdArb = fc
  .tuple(fc.string({ unit: fc.constantFrom(...TRUST_DOMAIN_CHARS), minLength: 1, maxLength: 255 }), fc.integer({ min: 2040, max: 2056 }))
  .map(([td, total]) => {
    const head = `spiffe://${td}/`;
    return head + 'x'.repeat(Math.max(1, total - head.length));
  });

const FORBIDDEN = ['%', '%2F', '%41', '%2e', ':', ':8080', '@', 'user@', '?', '?x=1', '#', '#f', '[', ']', '[::1]', ' ', '\0', '\t', '\n', '!', '\\', '$', '+', '~', '*', 'é', 'ä', '\u00a0', '\ud800', '😀', 'ａ', 'K', '\u212a'];

type Mutation = (id: string, at: number) => string;
const insertAt = (s: string, at: number, piece: string): string => s.slice(0, at) + piece + s.slice(at);
const tdEnd = (id: string): number => {
  const slash = id.indexOf('/', 9);
  return slash === -1 ? id.length : slash;
};

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...FORBIDDEN).map((piece): Mutation => (id, at) => insertAt(id, at % (id.length + 1), piece)),
  fc.constant<Mutation>((id, at) => {
    // upper-case one character: invalid in the scheme or trust domain, fine in the path
    const i = at % id.length;
    return id.slice(0, i) + id.charAt(i).toUpperCase() + id.slice(i + 1);
  }),
  fc.constant<Mutation>((id) => id.replace(/^spiffe/, 'Spiffe')),
  fc.constant<Mutation>((id) => id.replace(/^spiffe:\/\//, 'spiffe:/')),
  fc.constant<Mutation>((id) => `${id}/`),
  fc.constant<Mutation>((id) => `${id}//x`),
  fc.constant<Mutation>((id) => `${id}/.`),
  fc.constant<Mutation>((id) => `${id}/..`),
  fc.constantFrom('/', '/.', '/..', '//', '/./', '/../').map((piece): Mutation => (id, at) => {
    const start = tdEnd(id);
    return insertAt(id, start + (at % (id.length - start + 1)), piece);
  }),
  fc.constant<Mutation>((id) => insertAt(id, tdEnd(id), ':443')),
  fc.constant<Mutation>((id) => insertAt(id, 9, 'user@')),
  fc.constant<Mutation>((id) => `spiffe://[::1]${id.slice(tdEnd(id))}`),
  fc.constant<Mutation>((id) => `spiffe://${id.slice(tdEnd(id))}`),
  fc.constant<Mutation>((id, at) => id.slice(0, at % (id.length + 1))),
  fc.constant<Mutation>((id, at) => {
    const i = at % id.length;
    return id.slice(0, i) + id.slice(i + 1);
  }),
);

const nearMissArb = fc
  .tuple(validIdArb, fc.array(fc.tuple(mutationArb, fc.nat()), { minLength: 1, maxLength: 3 }))
  .map(([id, mutations]) => mutations.reduce((text, [mutate, at]) => mutate(text, at), id));

/** Short strings over a small alphabet rich in the characters the grammar cares about. */
const alphabetSoupArb = fc
  .string({ unit: fc.constantFrom('a', 'z', '0', '.', '-', '_', '/', 'A', '%', ':', '@', '?', '#', '[', ' ', 'é', '!'), maxLength: 20 })
  .map((rest) => `spiffe://${rest}`);

const anyCodeUnitStringArb = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 64 });

const anyStringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 32 }),
  anyCodeUnitStringArb,
  anyCodeUnitStringArb.map((s) => `spiffe://${s}`),
  fc.string({ unit: 'binary', minLength: 2040, maxLength: 2100 }),
  fc.string({ unit: 'binary-ascii', minLength: 2040, maxLength: 2100 }).map((s) => `spiffe://${s}`),
);

const RUNS = 3000;

describe('parseSpiffeId: properties', () => {
  it('(a) never throws, and returns an ID or an error, on arbitrary strings (full Unicode, lone surrogates, long)', () => {
    fc.assert(
      fc.property(fc.oneof(anyStringArb, nearMissArb, validIdArb), (text) => {
        const result = parseSpiffeId(text);
        return result instanceof SpiffeIdError ? typeof result.code === 'string' : typeof result.id === 'string';
      }),
      { numRuns: RUNS },
    );
  });

  it('(b) accepts exactly the grammar: valid IDs, boundary lengths, near-misses, alphabet soup and arbitrary strings', () => {
    const inputs = fc.oneof(validIdArb, boundaryIdArb, nearMissArb, nearMissArb, alphabetSoupArb, anyStringArb);
    fc.assert(
      fc.property(inputs, (text) => {
        expect(!isSpiffeIdError(parseSpiffeId(text)), JSON.stringify(text.slice(0, 120))).toBe(oracleAccepts(text));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('(b) the generators really produce both verdicts', () => {
    const sample = fc.sample(fc.oneof(validIdArb, nearMissArb, boundaryIdArb), { numRuns: 500, seed: 42 });
    const accepted = sample.filter(oracleAccepts).length;
    expect(accepted).toBeGreaterThan(100);
    expect(sample.length - accepted).toBeGreaterThan(100);
  });

  it('(c) a valid ID rebuilds from its parts byte for byte', () => {
    fc.assert(
      fc.property(fc.oneof(validIdArb, boundaryIdArb), (text) => {
        const result = parseSpiffeId(text);
        if (isSpiffeIdError(result)) return oracleAccepts(text) === false;
        expect(result.id).toBe(text);
        expect(`spiffe://${result.trustDomain}${result.path}`).toBe(text);
        expect(result.path).toBe(result.segments.length === 0 ? '' : `/${result.segments.join('/')}`);
        return true;
      }),
      { numRuns: RUNS },
    );
  });

  it('(c) the parts are the generated parts', () => {
    fc.assert(
      fc.property(trustDomainArb.filter((td) => td.length <= 255), segmentsArb, (td, segments) => {
        const id = valid(build(td, segments));
        expect(id.trustDomain).toBe(td);
        expect(id.segments).toEqual(segments);
      }),
      { numRuns: RUNS },
    );
  });

  it('(d) pathHasPrefix is whole-segment equality, never a string prefix', () => {
    // Prefixes derived from the ID's own segments (kept, cut, extended or altered) so that both answers are common.
    const caseArb = fc.tuple(segmentsArb, fc.nat({ max: 7 }), fc.constantFrom('keep', 'extend', 'cut', 'append'), segmentArb);
    fc.assert(
      fc.property(caseArb, ([segments, count, how, extra]) => {
        const prefix = segments.slice(0, Math.min(count, segments.length));
        const last = prefix.length - 1;
        if (how === 'extend' && last >= 0) prefix[last] += extra;
        if (how === 'cut' && last >= 0 && prefix[last].length > 1) prefix[last] = prefix[last].slice(0, -1);
        if (how === 'append') prefix.push(extra);
        const id = valid(build('td', segments));
        const expected = prefix.length <= segments.length && prefix.every((s, i) => s === segments[i]);
        expect(pathHasPrefix(id, prefix)).toBe(expected);
        // Cross-check against the only string test that is sound: prefix path followed by "/" or the end.
        const prefixPath = prefix.map((s) => `/${s}`).join('');
        const bySlash = prefixPath === '' || id.path === prefixPath || id.path.startsWith(`${prefixPath}/`);
        expect(pathHasPrefix(id, prefix)).toBe(bySlash);
      }),
      { numRuns: RUNS },
    );
  });

  it('(d) a segment that merely starts with the prefix\'s last segment never matches', () => {
    fc.assert(
      fc.property(segmentsArb, segmentArb, segmentArb, segmentsArb, (before, segment, extra, after) => {
        const id = valid(build('cluster.local', [...before, segment + extra, ...after]));
        const prefix = [...before, segment];
        expect(id.path.startsWith(prefix.map((s) => `/${s}`).join(''))).toBe(true);
        expect(pathHasPrefix(id, prefix)).toBe(false);
        expect(pathHasPrefix(id, [...before, segment + extra])).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('(d) sameTrustDomain is exact equality, even for string-prefix or suffix lookalikes', () => {
    fc.assert(
      fc.property(trustDomainArb, fc.string({ unit: fc.constantFrom(...TRUST_DOMAIN_CHARS), minLength: 1, maxLength: 8 }), (td, extra) => {
        fc.pre(td.length + extra.length <= 255);
        const a = valid(`spiffe://${td}/x`);
        expect(sameTrustDomain(a, valid(`spiffe://${td}/y`))).toBe(true);
        expect(sameTrustDomain(a, valid(`spiffe://${td}${extra}/x`))).toBe(false);
        expect(sameTrustDomain(a, valid(`spiffe://${extra}${td}/x`))).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});
