// src/identity/metadata-principal.ts: the metadata path setting, and the principal read from decoded filter_metadata.
import { describe, expect, it } from 'vitest';
import { parseMetadataPath, principalFromMetadata, type MetadataPath } from '../../../src/identity/metadata-principal.js';

const ANALYTICS = 'spiffe://cluster.local/ns/analytics/sa/analytics';
const PATH: MetadataPath = { namespace: 'meshwarden.peer', keys: ['source_principal'] };

/** The metadata context as the codec hands it over: each filter_metadata Struct already plain JSON. */
function context(filterMetadata: Record<string, unknown>): unknown {
  return { filterMetadata };
}

describe('parseMetadataPath', () => {
  it.each([
    ['meshwarden.peer:source_principal', { namespace: 'meshwarden.peer', keys: ['source_principal'] }],
    ['envoy.filters.http.lua:peer:principal', { namespace: 'envoy.filters.http.lua', keys: ['peer', 'principal'] }],
  ])('reads %s', (text, expected) => {
    expect(parseMetadataPath(text)).toEqual(expected);
  });

  it.each([
    ['meshwarden.peer', 'expected NAMESPACE:KEY'],
    ['', 'expected NAMESPACE:KEY'],
    [':source_principal', 'non-empty'],
    ['meshwarden.peer:', 'non-empty'],
    ['meshwarden.peer::principal', 'non-empty'],
    ['meshwarden.peer: principal', 'surrounding spaces'],
    [`ns:${'k'.repeat(1100)}`, 'longer than 1024'],
  ])('refuses %j (%s)', (text, problem) => {
    const parsed = parseMetadataPath(text);
    expect('problem' in parsed && parsed.problem).toContain(problem);
  });
});

describe('principalFromMetadata', () => {
  it('reads the SPIFFE ID at the path, nested keys included', () => {
    expect(principalFromMetadata(context({ 'meshwarden.peer': { source_principal: ANALYTICS } }), PATH)).toEqual({ found: 'principal', principal: ANALYTICS });
    const nested: MetadataPath = { namespace: 'envoy.filters.http.lua', keys: ['peer', 'principal'] };
    expect(principalFromMetadata(context({ 'envoy.filters.http.lua': { peer: { principal: ANALYTICS } } }), nested)).toEqual({ found: 'principal', principal: ANALYTICS });
  });

  it.each([
    ['no metadata context', undefined],
    ['no filter_metadata', {}],
    ['another namespace only', context({ 'envoy.filters.http.jwt_authn': { source_principal: ANALYTICS } })],
    ['the namespace without the key', context({ 'meshwarden.peer': { other: ANALYTICS } })],
    ['an empty string (a filter that found no peer)', context({ 'meshwarden.peer': { source_principal: '' } })],
    ['a key on the prototype chain only', context({ 'meshwarden.peer': Object.create({ source_principal: ANALYTICS }) as object })],
    ['a namespace that is not a mapping', context({ 'meshwarden.peer': 'spiffe://cluster.local/ns/a/sa/a' })],
  ])('is absent with %s', (_what, metadata) => {
    expect(principalFromMetadata(metadata, PATH)).toEqual({ found: 'absent' });
  });

  it.each([
    ['a number', 42, 'a number'],
    ['null', null, 'null'],
    ['a list', [ANALYTICS], 'a list'],
    ['a struct', { id: ANALYTICS }, 'a object'],
    ["Envoy's '-' for a missing value", '-', 'not a SPIFFE ID'],
    ['another scheme', 'https://analytics.example/', 'not a SPIFFE ID'],
    ['an uppercase trust domain', 'spiffe://Cluster.local/ns/a/sa/a', 'not a SPIFFE ID'],
    ['an Istio principal without the scheme', 'cluster.local/ns/analytics/sa/analytics', 'not a SPIFFE ID'],
    ['an ID longer than a SPIFFE ID may be', `spiffe://cluster.local/${'a'.repeat(2100)}`, 'longer than a SPIFFE ID'],
  ])('is malformed with %s', (_what, value, problem) => {
    const found = principalFromMetadata(context({ 'meshwarden.peer': { source_principal: value } }), PATH);
    expect(found.found).toBe('malformed');
    expect(found.found === 'malformed' && found.problem).toContain(problem);
  });
});
