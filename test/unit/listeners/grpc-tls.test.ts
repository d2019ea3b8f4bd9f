// The per-connection peer decision: decided on a connection's first call, reused for its later ones, never shared
// between connections, and decided on every call when grpc-js's stream has no session to key it on.
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createPeerDecisions } from '../../../src/listeners/grpc-tls.js';
import { createCa, issuePair } from '../../helpers/certs.js';
import { X509Certificate } from 'node:crypto';

const ALLOWED = 'spiffe://cluster.local/ns/envoy/sa/envoy';

/** The shape Node's getPeerCertificate gives: what authorizePeer reads (subjectaltname) and a non-empty object. */
function certificateWith(subjectaltname: string): PeerCertificate {
  return { subjectaltname, raw: Buffer.from('x') } as unknown as PeerCertificate;
}

function callOn(session: object | undefined): object {
  return { stream: session === undefined ? {} : { session } };
}

describe('createPeerDecisions', () => {
  it('decides a connection once: later calls on it reuse the decision without reading the certificate', () => {
    const decide = createPeerDecisions(new Set([ALLOWED]));
    const session = {};
    let reads = 0;
    const read = (): PeerCertificate => {
      reads++;
      return certificateWith(`URI:${ALLOWED}`);
    };
    for (let call = 0; call < 5; call++) expect(decide(callOn(session), read)).toEqual({ authorized: true, spiffeId: ALLOWED });
    expect(reads).toBe(1);
  });

  it('keeps each connection its own decision (a refused one does not refuse another, nor the reverse)', () => {
    const decide = createPeerDecisions(new Set([ALLOWED]));
    const allowed = {};
    const stranger = {};
    expect(decide(callOn(allowed), () => certificateWith(`URI:${ALLOWED}`)).authorized).toBe(true);
    expect(decide(callOn(stranger), () => certificateWith('URI:spiffe://cluster.local/ns/default/sa/default'))).toEqual({
      authorized: false,
      reason: 'spiffe://cluster.local/ns/default/sa/default is not an allowed caller',
    });
    expect(decide(callOn(allowed), () => certificateWith('URI:spiffe://cluster.local/ns/default/sa/default')).authorized).toBe(true);
    expect(decide(callOn(stranger), () => certificateWith(`URI:${ALLOWED}`)).authorized).toBe(false);
  });

  it('decides every call when the call has no session to key on (grpc-js moved its private field)', () => {
    const decide = createPeerDecisions(new Set([ALLOWED]));
    let reads = 0;
    const read = (): PeerCertificate => {
      reads++;
      return certificateWith(`URI:${ALLOWED}`);
    };
    decide(callOn(undefined), read);
    decide({}, read);
    decide({ stream: null }, read);
    expect(reads).toBe(3);
  });

  it('reads a real certificate the same way (one URI SAN, held to the allow-list)', async () => {
    const ca = await createCa('unit CA');
    const pair = await issuePair(ca, { uris: [ALLOWED] });
    const subjectaltname = new X509Certificate(pair.cert).subjectAltName ?? '';
    expect(createPeerDecisions(undefined)(callOn({}), () => certificateWith(subjectaltname))).toEqual({ authorized: true, spiffeId: ALLOWED });
  });
});
