// src/tls/peer.ts: a client certificate's SPIFFE identity from Node's subjectaltname text, and the allow-list.
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { authorizePeer, uriSans } from '../../../src/tls/peer.js';

const ENVOY = 'spiffe://cluster.local/ns/envoy/sa/envoy';
const certificate = (subjectaltname: string | undefined): PeerCertificate => ({ raw: Buffer.from('x'), ...(subjectaltname === undefined ? {} : { subjectaltname }) }) as unknown as PeerCertificate;

describe('uriSans', () => {
  it.each([
    [undefined, []],
    ['', []],
    [`URI:${ENVOY}`, [ENVOY]],
    [`DNS:envoy.svc, URI:${ENVOY}, IP Address:10.0.0.1`, [ENVOY]],
    [`URI:${ENVOY}, URI:spiffe://cluster.local/ns/a/sa/a`, [ENVOY, 'spiffe://cluster.local/ns/a/sa/a']],
    ['DNS:a.example, DNS:b.example', []],
    // Node quotes a value holding a comma, so it cannot pass for two entries
    ['URI:"spiffe://cluster.local/ns/a,URI:spiffe://x/y", DNS:z', ['spiffe://cluster.local/ns/a,URI:spiffe://x/y']],
  ])('%j → %j', (text, uris) => {
    expect(uriSans(text)).toEqual(uris);
  });
});

describe('authorizePeer', () => {
  const allowed = new Set([ENVOY]);
  it.each([
    ['the allowed SPIFFE ID', certificate(`URI:${ENVOY}`), { authorized: true, spiffeId: ENVOY }],
    ['no certificate', undefined, { authorized: false, reason: 'no client certificate' }],
    ['DNS names only', certificate('DNS:envoy.envoy.svc'), { authorized: false, reason: expect.stringContaining('no URI SAN') }],
    ['two URI SANs', certificate(`URI:${ENVOY}, URI:${ENVOY}`), { authorized: false, reason: expect.stringContaining('2 URI SANs') }],
    ['a URI that is not a SPIFFE ID', certificate('URI:https://envoy.example/'), { authorized: false, reason: expect.stringContaining('not a SPIFFE ID') }],
    ['an ID not on the list', certificate('URI:spiffe://cluster.local/ns/default/sa/default'), { authorized: false, reason: 'spiffe://cluster.local/ns/default/sa/default is not an allowed caller' }],
    ['a case-folded ID (the parser never folds)', certificate('URI:spiffe://cluster.local/ns/Envoy/sa/envoy'), { authorized: false, reason: expect.stringContaining('not an allowed caller') }],
  ])('%s', (_what, peer, decision) => {
    expect(authorizePeer(peer, allowed)).toEqual(decision);
  });

  it('without an allow-list, any SPIFFE ID the CA signed', () => {
    expect(authorizePeer(certificate('URI:spiffe://other.example/x'), undefined)).toEqual({ authorized: true, spiffeId: 'spiffe://other.example/x' });
  });
});
