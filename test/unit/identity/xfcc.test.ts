// src/identity/xfcc.ts: the x-forwarded-client-cert parser (reference §4 X-1..X-5) and the peer URI from its last element (§6 T-16, T-17).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XfccError, identityFromXfcc, isXfccError, parseXfcc, type XfccElement, type XfccErrorCode } from '../../../src/identity/xfcc.js';

const HASH_A = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688';
const HASH_B = '9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e';
const ISTIO_HASH = '20af2c8b5ea8a39f04bf7e5bb1d45b6cbc26a2e2a9a2c2c1f3a7c8f3a8d6b9e0';
const LYFT_SUBJECT = '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client';
const ISTIO_ELEMENT = `By=spiffe://cluster.local/ns/default/sa/default;Hash=${ISTIO_HASH};Subject="";URI=spiffe://cluster.local/ns/default/sa/default`;

const pair = (key: string, value: string) => ({ key, value });

function parsed(header: string): XfccElement[] {
  const result = parseXfcc(header);
  if (isXfccError(result)) throw new Error(`expected ${JSON.stringify(header)} to parse, got ${result.code}: ${result.message}`);
  return result;
}

describe('parseXfcc: well-formed headers', () => {
  it.each<[string, string, XfccElement[]]>([
    [
      'X-3 doc example 1',
      `By=http://frontend.lyft.com;Hash=${HASH_A};Subject="${LYFT_SUBJECT}";URI=http://testclient.lyft.com`,
      [[pair('by', 'http://frontend.lyft.com'), pair('hash', HASH_A), pair('subject', LYFT_SUBJECT), pair('uri', 'http://testclient.lyft.com')]],
    ],
    [
      'X-3 doc example 2 (two elements)',
      `By=http://frontend.lyft.com;Hash=${HASH_A};Subject="${LYFT_SUBJECT}";URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=${HASH_B};URI=http://frontend.lyft.com`,
      [
        [pair('by', 'http://frontend.lyft.com'), pair('hash', HASH_A), pair('subject', LYFT_SUBJECT), pair('uri', 'http://testclient.lyft.com')],
        [pair('by', 'http://backend.lyft.com'), pair('hash', HASH_B), pair('uri', 'http://frontend.lyft.com')],
      ],
    ],
    [
      'X-3 doc example 3 (repeated DNS)',
      `By=http://frontend.lyft.com;Hash=${HASH_A};Subject="${LYFT_SUBJECT}";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`,
      [
        [
          pair('by', 'http://frontend.lyft.com'),
          pair('hash', HASH_A),
          pair('subject', LYFT_SUBJECT),
          pair('uri', 'http://testclient.lyft.com'),
          pair('dns', 'lyft.com'),
          pair('dns', 'www.lyft.com'),
        ],
      ],
    ],
    [
      'X-5 Istio sidecar value (empty quoted Subject)',
      ISTIO_ELEMENT,
      [
        [
          pair('by', 'spiffe://cluster.local/ns/default/sa/default'),
          pair('hash', ISTIO_HASH),
          pair('subject', ''),
          pair('uri', 'spiffe://cluster.local/ns/default/sa/default'),
        ],
      ],
    ],
    [
      'X-1 URL-encoded PEM in a quoted Cert',
      'Hash=ab;Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%2Bw%3D%3D%0A-----END%20CERTIFICATE-----%0A";URI=spiffe://td/a',
      [[pair('hash', 'ab'), pair('cert', '-----BEGIN%20CERTIFICATE-----%0AMIIB%2Bw%3D%3D%0A-----END%20CERTIFICATE-----%0A'), pair('uri', 'spiffe://td/a')]],
    ],
    [
      'T-17 quoted , ; and = in a Subject',
      'Subject="CN=a,b;c";URI=spiffe://td/a',
      [[pair('subject', 'CN=a,b;c'), pair('uri', 'spiffe://td/a')]],
    ],
    [
      'T-17 \\" escapes',
      'Subject="CN=\\"quoted\\",O=x";URI=spiffe://td/a',
      [[pair('subject', 'CN="quoted",O=x'), pair('uri', 'spiffe://td/a')]],
    ],
    [
      'an escaped backslash before the closing quote (RFC 2253 "\\\\" in a Subject)',
      'Subject="CN=a\\\\";URI=spiffe://td/a',
      [[pair('subject', 'CN=a\\'), pair('uri', 'spiffe://td/a')]],
    ],
    [
      'a backslash escapes any character inside quotes',
      'Subject="a\\,b\\x"',
      [[pair('subject', 'a,bx')]],
    ],
    [
      'a backslash outside quotes is literal',
      'By=a\\b;URI=c\\',
      [[pair('by', 'a\\b'), pair('uri', 'c\\')]],
    ],
    [
      'X-2 unquoted value with "=" (split at the first "=")',
      'Subject=CN=a;URI=spiffe://td/a?x=1',
      [[pair('subject', 'CN=a'), pair('uri', 'spiffe://td/a?x=1')]],
    ],
    [
      'keys are case-insensitive (ASCII-lowercased), values case-sensitive',
      'uRi=SPIFFE://TD/A;SUBJECT="CN=Mixed"',
      [[pair('uri', 'SPIFFE://TD/A'), pair('subject', 'CN=Mixed')]],
    ],
    [
      'empty values, quoted or not',
      'URI=;Subject=""',
      [[pair('uri', ''), pair('subject', '')]],
    ],
    [
      'nothing is trimmed: whitespace stays in keys and values',
      'By=x; URI=y ,Hash= z',
      [[pair('by', 'x'), pair(' uri', 'y ')], [pair('hash', ' z')]],
    ],
    [
      'non-ASCII and "!" substitutes are kept as they are',
      'Subject="CN=é!";URI=spiffe://td/ä',
      [[pair('subject', 'CN=é!'), pair('uri', 'spiffe://td/ä')]],
    ],
    [
      'Unicode case folding does not make keys (KELVIN SIGN is not "k")',
      '\u212Aey=1;\u0130=2',
      [[pair('\u212Aey', '1'), pair('\u0130', '2')]],
    ],
  ])('%s', (_name, header, expected) => {
    expect(parsed(header)).toEqual(expected);
  });
});

describe('parseXfcc: malformed headers', () => {
  it.each<[string, string, XfccErrorCode]>([
    ['an empty header', '', 'empty'],
    ['T-17 an unterminated quote', 'Subject="CN=a;URI=spiffe://td/a', 'unterminated_quote'],
    ['T-17 an unterminated quote ending in an escaped quote', 'Subject="CN=a\\"', 'unterminated_quote'],
    ['T-17 a backslash as the last character inside quotes', 'Subject="CN=a\\', 'unterminated_quote'],
    // The forged quote closes at the first quote of Envoy's Subject="", leaving a stray one.
    ['a quote opened in a forged first element swallowing the rest', `Subject="x,${ISTIO_ELEMENT}`, 'stray_quote'],
    ['T-17 a pair without "="', 'By=x;garbage;URI=y', 'missing_equals'],
    ['a key alone', 'URI', 'missing_equals'],
    ['a trailing ";"', 'URI=x;', 'missing_equals'],
    ['a trailing ","', 'URI=x,', 'missing_equals'],
    ['an empty element', 'URI=x,,URI=y', 'missing_equals'],
    ['a leading ","', ',URI=x', 'missing_equals'],
    ['an empty pair', 'By=x;;URI=y', 'missing_equals'],
    ['an empty key', '=x', 'empty_key'],
    ['an empty key after ";"', 'By=x;=y', 'empty_key'],
    ['a quoted key', '"URI"=x', 'stray_quote'],
    ['a quote inside an unquoted value', 'URI=a"b', 'stray_quote'],
    ['a quote that ends an unquoted value', 'URI=ab"', 'stray_quote'],
    ['a quote opening mid-value', 'URI=ab"c,d"', 'stray_quote'],
    ['text after the closing quote', 'Subject="a"b;URI=x', 'stray_quote'],
    ['a space after the closing quote', 'Subject="a" ;URI=x', 'stray_quote'],
    ['X-2 Envoy wrapping a Subject that holds a bare quote', 'Subject="CN=a"b";URI=spiffe://td/a', 'stray_quote'],
  ])('%s: %j → %s', (_name, header, code) => {
    const result = parseXfcc(header);
    expect(result).toBeInstanceOf(XfccError);
    expect((result as XfccError).code).toBe(code);
  });

  it('error messages never repeat the header', () => {
    const result = parseXfcc('Subject="SECRET') as XfccError;
    expect(result.message).not.toContain('SECRET');
  });
});

describe('identityFromXfcc (T-16, T-17)', () => {
  it.each<[string, string, { uri: string } | { error: string }]>([
    ['X-5 the Istio sidecar value', ISTIO_ELEMENT, { uri: 'spiffe://cluster.local/ns/default/sa/default' }],
    ['X-3 doc example 1', `By=http://frontend.lyft.com;Hash=${HASH_A};Subject="${LYFT_SUBJECT}";URI=http://testclient.lyft.com`, { uri: 'http://testclient.lyft.com' }],
    [
      'X-3 doc example 2: the last element wins',
      `By=http://frontend.lyft.com;Hash=${HASH_A};Subject="${LYFT_SUBJECT}";URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=${HASH_B};URI=http://frontend.lyft.com`,
      { uri: 'http://frontend.lyft.com' },
    ],
    [
      'X-3 doc example 3: DNS pairs do not matter',
      `By=http://frontend.lyft.com;Hash=${HASH_A};Subject="${LYFT_SUBJECT}";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`,
      { uri: 'http://testclient.lyft.com' },
    ],
    [
      'T-16 a forged first element is ignored',
      `By=spiffe://cluster.local/ns/prod/sa/gw;URI=spiffe://cluster.local/ns/prod/sa/admin,${ISTIO_ELEMENT}`,
      { uri: 'spiffe://cluster.local/ns/default/sa/default' },
    ],
    [
      'T-16 several forged elements are ignored',
      `URI=spiffe://a/x,URI=spiffe://b/y;URI=spiffe://c/z,${ISTIO_ELEMENT}`,
      { uri: 'spiffe://cluster.local/ns/default/sa/default' },
    ],
    [
      'T-16 a forged element hiding a URI inside quotes',
      `Subject="x,URI=spiffe://cluster.local/ns/prod/sa/admin",${ISTIO_ELEMENT}`,
      { uri: 'spiffe://cluster.local/ns/default/sa/default' },
    ],
    [
      'T-16 a URI only in a forged element, none in the last',
      `URI=spiffe://cluster.local/ns/prod/sa/admin,By=spiffe://cluster.local/ns/default/sa/default;Hash=${ISTIO_HASH};Subject=""`,
      { error: 'no_uri' },
    ],
    ['T-17 a quoted , ; = in the Subject', 'Subject="CN=a,b;c";URI=spiffe://td/ns/a/sa/b', { uri: 'spiffe://td/ns/a/sa/b' }],
    ['T-17 a Subject with \\" escapes', 'Subject="CN=\\"x,URI=evil\\"";URI=spiffe://td/ns/a/sa/b', { uri: 'spiffe://td/ns/a/sa/b' }],
    ['the key in any case', 'uri=spiffe://td/a', { uri: 'spiffe://td/a' }],
    ['a quoted URI', 'URI="spiffe://td/a"', { uri: 'spiffe://td/a' }],
    ['T-17 a bare "URI="', `By=spiffe://td/x;Hash=${ISTIO_HASH};Subject="";URI=`, { error: 'empty_uri' }],
    ['T-17 a quoted empty URI', 'URI=""', { error: 'empty_uri' }],
    ['T-17 two URI pairs', 'By=x;URI=spiffe://td/a;URI=spiffe://td/b', { error: 'several_uris' }],
    ['T-17 two URI pairs, one empty', 'URI=;URI=spiffe://td/b', { error: 'several_uris' }],
    ['T-17 two URI pairs in different case', 'URI=spiffe://td/a;uri=spiffe://td/a', { error: 'several_uris' }],
    ['no URI at all', `By=spiffe://td/x;Hash=${ISTIO_HASH};Subject=""`, { error: 'no_uri' }],
    ['a URI key with whitespace is not a URI key', 'By=x; URI=spiffe://td/a', { error: 'no_uri' }],
    ['T-17 an unterminated quote', 'Subject="CN=a;URI=spiffe://td/a', { error: 'malformed' }],
    ['T-17 a forged first element with an unbalanced quote', `Subject="x,${ISTIO_ELEMENT}`, { error: 'malformed' }],
    ['T-17 a forged first element with an unterminated quote', 'Subject="x,By=spiffe://td/x;URI=spiffe://td/a', { error: 'malformed' }],
    ['a malformed forged first element', `garbage,${ISTIO_ELEMENT}`, { error: 'malformed' }],
    ['a pair without "="', 'URI=spiffe://td/a;junk', { error: 'malformed' }],
    ['an empty header', '', { error: 'malformed' }],
  ])('%s', (_name, header, expected) => {
    expect(identityFromXfcc(header)).toEqual(expected);
  });
});

// A serializer following X-1: values holding , ; = " \ or nothing are quoted, with " and \ backslash-escaped.
const keyArb = fc.string({ unit: fc.constantFrom('a', 'B', 'u', 'R', 'I', '-', '_', ' ', 'é'), minLength: 1, maxLength: 6 });
const valueArb = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'Z', ':', '/', '=', ',', ';', '"', '\\', ' ', '!'), maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
);
const elementArb = fc.array(fc.record({ key: keyArb, value: valueArb }), { minLength: 1, maxLength: 5 });
const elementsArb = fc.array(elementArb, { minLength: 1, maxLength: 4 });

function serialize(elements: readonly XfccElement[], quoteAll: boolean): string {
  const quote = (value: string): string =>
    quoteAll || value === '' || /[,;="\\]/.test(value) ? `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"` : value;
  return elements.map((element) => element.map(({ key, value }) => `${key}=${quote(value)}`).join(';')).join(',');
}

const lower = (elements: readonly XfccElement[]): XfccElement[] =>
  elements.map((element) => element.map(({ key, value }) => ({ key: key.replace(/[A-Z]/g, (c) => c.toLowerCase()), value })));

const RUNS = 3000;

describe('parseXfcc: properties', () => {
  it('never throws on arbitrary strings, and returns elements or an XfccError', () => {
    const soup = fc.string({ unit: fc.constantFrom('=', ',', ';', '"', '\\', 'U', 'r', 'i', ' ', 'x'), maxLength: 40 });
    const headers = fc.oneof(
      soup,
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
      fc.string({ unit: 'binary', minLength: 2000, maxLength: 4000 }),
    );
    fc.assert(
      fc.property(headers, (header) => {
        const result = parseXfcc(header);
        const identity = identityFromXfcc(header);
        if (result instanceof XfccError) return typeof result.code === 'string' && 'error' in identity;
        return Array.isArray(result) && result.length > 0 && result.every((element) => element.length > 0);
      }),
      { numRuns: RUNS },
    );
  });

  it('accepts exactly the grammar: an independent regular expression agrees on every verdict', () => {
    // pair = key "=" value; key = 1*(not = , ; "); value = quoted-string (backslash escapes any char) / *(not , ; ")
    const pairPattern = '[^=,;"]+=(?:"(?:[^"\\\\]|\\\\[\\s\\S])*"|[^,;"]*)';
    const oracle = new RegExp(`^${pairPattern}(?:[,;]${pairPattern})*$`);
    const soup = fc.string({ unit: fc.constantFrom('=', ',', ';', '"', '\\', 'U', 'i', ' '), maxLength: 16 });
    // Pairs with small defects (no key, no "=", text around quotes, unclosed quotes, doubled separators) make
    // structured near-misses likely, which character soup almost never produces.
    const nearPair = fc
      .tuple(
        fc.constantFrom('U', 'Ui', '', ' '),
        fc.constantFrom('=', '=', '', '=='),
        fc.constantFrom('', 'i', '""', '"i"', '"\\""', '"\\\\"', '"', 'i"', '"i"i', '"i" ', '"i\\', '"a,b;c"'),
      )
      .map((parts) => parts.join(''));
    const tokens = fc
      .array(fc.tuple(nearPair, fc.constantFrom(';', ',', ';', ',', ';;', '')), { minLength: 1, maxLength: 4 })
      .map((pairs) => pairs.map(([pair, separator]) => pair + separator).join('').replace(/[;,]+$/, (end) => (end.length > 1 ? end : '')));
    fc.assert(
      fc.property(fc.oneof(soup, tokens, elementsArb.map((elements) => serialize(elements, false))), (header) => {
        expect(!isXfccError(parseXfcc(header)), JSON.stringify(header)).toBe(oracle.test(header));
      }),
      { numRuns: RUNS },
    );
  });

  it('parses what an X-1 serializer writes back to the same pairs (keys lowercased)', () => {
    fc.assert(
      fc.property(elementsArb, fc.boolean(), (elements, quoteAll) => {
        expect(parsed(serialize(elements, quoteAll))).toEqual(lower(elements));
      }),
      { numRuns: RUNS },
    );
  });

  it('T-16: whatever well-formed elements come first, the identity is the last element\'s single URI', () => {
    const uriArb = fc.string({ unit: fc.constantFrom('a', 'z', '/', ':', '.', '-'), minLength: 1, maxLength: 20 }).map((s) => `spiffe://${s}`);
    fc.assert(
      fc.property(elementsArb, uriArb, (forged, uri) => {
        const header = `${serialize(forged, false)},By=spiffe://cluster.local/ns/x/sa/y;Hash=${ISTIO_HASH};Subject="";URI=${uri}`;
        expect(identityFromXfcc(header)).toEqual({ uri });
      }),
      { numRuns: RUNS },
    );
  });
});
