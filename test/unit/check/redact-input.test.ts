// src/check/redact-input.ts: every place of the input document that can carry a secret, redacted by name.
import { describe, expect, it } from 'vitest';
import { createInputRedactor, DEFAULT_REDACTED_NAMES, REDACTED } from '../../../src/check/redact-input.js';

const input = {
  attributes: {
    request: {
      http: {
        method: 'POST',
        path: '/login?access_token=S1&page=2&X-Auth-Token=S2&tok%65n=S3#frag',
        query: 'api_key=S4&page=2',
        headers: { ':path': '/login?id_token=S5&page=2', 'x-auth-token': 'S6', cookie: 'S7', 'content-type': 'application/json', 'x-tenant': 'S8' },
        headerMap: { headers: [{ key: 'authorization', value: 'S9' }, { key: 'cookie', rawValue: 'UzEw' }, { key: ':path', value: '/x?session=S11' }, { key: ':path', rawValue: 'UzEy' }, { key: 'accept', value: '*/*' }] },
        body: '{"password":"S13"}',
        rawBody: 'UzE0',
      },
    },
    contextExtensions: { 'backend-secret': 'S15', zone: 'eu' },
    metadataContext: { filterMetadata: { 'envoy.filters': { client_secret: 'S16', keep: 1 } } },
  },
  parsed_query: { access_token: ['S1'], page: ['2'] },
  parsed_body: { user: 'alice', password: 'S17', nested: [{ refresh_token: 'S18', n: 1 }] },
  parsed_path: ['login'],
  jwt: { valid: true, claims: { sub: 'alice', session_state: 'S19' } },
};

describe('createInputRedactor', () => {
  const redact = createInputRedactor(['x-tenant']);
  const text = JSON.stringify(redact(input));

  it('leaves no planted secret, and keeps what is not secret', () => {
    for (let i = 1; i <= 19; i++) expect(text, `S${i}`).not.toMatch(new RegExp(`\\bS${i}\\b`));
    const out = redact(input) as any;
    const http = out.attributes.request.http;
    expect(http.path).toBe(`/login?access_token=${REDACTED}&page=2&X-Auth-Token=${REDACTED}&tok%65n=${REDACTED}#frag`);
    expect(http.query).toBe(`api_key=${REDACTED}&page=2`);
    expect(http.headers).toEqual({ ':path': `/login?id_token=${REDACTED}&page=2`, 'x-auth-token': REDACTED, cookie: REDACTED, 'content-type': 'application/json', 'x-tenant': REDACTED });
    expect(http.headerMap.headers).toEqual([
      { key: 'authorization', value: REDACTED },
      { key: 'cookie', rawValue: REDACTED },
      { key: ':path', value: `/x?session=${REDACTED}` },
      { key: ':path', rawValue: REDACTED },
      { key: 'accept', value: '*/*' },
    ]);
    expect(http.body).toBe('[redacted: 18 characters]');
    expect(out.attributes.contextExtensions).toEqual({ 'backend-secret': REDACTED, zone: 'eu' });
    expect(out.attributes.metadataContext.filterMetadata['envoy.filters']).toEqual({ client_secret: REDACTED, keep: 1 });
    expect(out.parsed_query).toEqual({ access_token: [REDACTED], page: ['2'] });
    expect(out.parsed_body).toEqual({ user: 'alice', password: REDACTED, nested: [{ refresh_token: REDACTED, n: 1 }] });
    expect(out.parsed_path).toEqual(['login']);
    expect(out.jwt).toEqual({ valid: true, claims: { sub: 'alice', session_state: REDACTED } });
  });

  it('does not change the document it is given', () => {
    const copy = structuredClone(input);
    redact(input);
    expect(input).toEqual(copy);
  });

  it('extra names add to the default list, any case', () => {
    expect(DEFAULT_REDACTED_NAMES).toContain('token');
    const plain = createInputRedactor();
    expect((plain({ attributes: { contextExtensions: { 'x-tenant': 'v', 'X-SSN': 'v' } } }) as any).attributes.contextExtensions).toEqual({ 'x-tenant': 'v', 'X-SSN': 'v' });
    const extra = createInputRedactor(['SSN']);
    expect((extra({ attributes: { contextExtensions: { 'X-SSN': 'v' } } }) as any).attributes.contextExtensions).toEqual({ 'X-SSN': REDACTED });
  });

  it('keeps a header named __proto__ as a header', () => {
    const parsed = JSON.parse('{"attributes":{"request":{"http":{"headers":{"__proto__":"v","x-auth-token":"s"}}}}}') as unknown;
    expect(JSON.stringify(redact(parsed))).toBe(`{"attributes":{"request":{"http":{"headers":{"__proto__":"v","x-auth-token":"${REDACTED}"}}}}}`);
  });

  it('leaves other values as they are', () => {
    expect(redact(null)).toBe(null);
    expect(redact({ parsed_body: null, parsed_query: {} })).toEqual({ parsed_body: null, parsed_query: {} });
  });
});
