import { describe, expect, it } from 'vitest';
import { parseChallenge, realmProblem } from '../../../src/management/registry-token.js';

describe('parseChallenge (WWW-Authenticate, RFC 7235 auth-params)', () => {
  it.each([
    [
      "a registry's Bearer challenge",
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:acme/authz:pull"',
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:acme/authz:pull' } },
    ],
    ['spaces, tokens and escapes', 'bearer  Realm = "https://a/t" , service=reg, scope="a \\"b\\""', { scheme: 'bearer', params: { realm: 'https://a/t', service: 'reg', scope: 'a "b"' } }],
    ['a Basic challenge', 'Basic realm="Registry"', { scheme: 'basic', params: { realm: 'Registry' } }],
    ['a scheme alone', 'Bearer', { scheme: 'bearer', params: {} }],
  ])('%s', (_case, header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });

  it.each([['an empty header', ''], ['an unterminated quoted-string', 'Bearer realm="https://a']])('gives nothing for %s', (_case, header) => {
    expect(parseChallenge(header)).toBeUndefined();
  });
});

describe("realmProblem (oras-go's check of where the token is fetched)", () => {
  it.each([
    ['an https realm elsewhere', 'https://auth.example.com/token', 'https://registry.example.com', undefined],
    ['an http realm for an http registry, on its host', 'http://127.0.0.1:9000/token', 'http://127.0.0.1:5000', undefined],
    ['an http realm for an https registry', 'http://auth.example.com/token', 'https://registry.example.com', 'uses http but the registry is https'],
    ['a loopback realm for another host', 'https://127.0.0.1/token', 'https://registry.example.com', 'is an internal address'],
    ['a private realm for another host', 'https://10.0.0.8/token', 'https://registry.example.com', 'is an internal address'],
    ['a realm that is not http', 'file:///etc/passwd', 'https://registry.example.com', 'is not http(s)'],
    ['a realm that is no URL', 'not a url', 'https://registry.example.com', 'is not a URL'],
  ])('%s', (_case, realm, registry, problem) => {
    const found = realmProblem(realm, new URL(registry));
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
