// src/check/check.ts runCheck: a policy result seen before is not parsed, validated and rendered again (the decision
// cache), and that never changes an answer: per call decision ids, shadow mode, reloads, invalid results.
import { DEFAULT_REQUEST_LIMITS } from '../../../src/check/limits.js';
import { describe, expect, it } from 'vitest';
import { runCheck, type CheckContext } from '../../../src/check/check.js';
import type { DecodedCheckRequest } from '../../../src/envoy/codec.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';
import { loadPolicy, type Policy } from '../../../src/check/policy.js';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { compileRego } from '../../helpers/policies.js';

const api = loadEnvoyApi();
const identity = { trustDomains: createTrustDomains({ local: 'cluster.local' }), xfcc: false };

// Allows GET; the metadata names the path, so each path is a distinct result. A status of 999 is invalid.
const POLICY = `package t

decision := {
	"allowed": input.attributes.request.http.method == "GET",
	"http_status": status,
	"dynamic_metadata": {"path": input.attributes.request.http.path},
}

default status := 403

status := 999 if input.attributes.request.http.path == "/invalid"
`;

const request = (method: string, path: string): DecodedCheckRequest => ({
  kind: 'request',
  byteLength: 100,
  attributes: { source: { principal: 'spiffe://cluster.local/ns/a/sa/a' }, request: { http: { method, path, headers: {} } } },
});

function contextFor(policy: Policy, shadow = false): CheckContext {
  return { policy: () => policy, shadow, skipBodyParse: false, validStatuses: api.envoyStatusCodes, identity, limits: DEFAULT_REQUEST_LIMITS };
}

const metadataOf = (outcome: ReturnType<typeof runCheck>): Record<string, unknown> => outcome.response.dynamicMetadata.fields;

describe('runCheck with a result seen before', () => {
  const load = (): Promise<Policy> => loadPolicy({ path: compileRego(POLICY, 't/decision') });

  it('reuses the decision and its response template, with a fresh response and decision id each call', async () => {
    const context = contextFor(await load());
    const first = runCheck(request('GET', '/a'), context);
    const second = runCheck(request('GET', '/a'), context);
    expect(first.allowed).toBe(true);
    expect(second.template).toBe(first.template);
    expect(second.decision).toBe(first.decision);
    expect(Object.isFrozen(first.template) && Object.isFrozen(first.decision)).toBe(true);
    expect(second.response).not.toBe(first.response);
    expect(second.decisionId).not.toBe(first.decisionId);
    expect(metadataOf(first)).toEqual({ path: { stringValue: '/a' }, decision_id: { stringValue: first.decisionId } });
    expect(metadataOf(second)).toEqual({ path: { stringValue: '/a' }, decision_id: { stringValue: second.decisionId } });
    expect(first.template?.dynamicMetadata.fields).toEqual({ path: { stringValue: '/a' } });
  });

  it('answers each distinct result for itself, beyond what the cache holds', async () => {
    const context = contextFor(await load());
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1500; i += 7) {
        const method = i % 2 === 0 ? 'GET' : 'POST';
        const outcome = runCheck(request(method, `/item/${i}`), context);
        expect(outcome.allowed, `${method} /item/${i}`).toBe(method === 'GET');
        expect(outcome.reason).toBe(method === 'GET' ? 'allowed' : 'policy_denied');
        expect(metadataOf(outcome)['path']).toEqual({ stringValue: `/item/${i}` });
      }
    }
  });

  it('keeps shadow mode and the policy in force apart', async () => {
    const policy = await load();
    const enforcing = runCheck(request('POST', '/b'), contextFor(policy));
    const shadow = runCheck(request('POST', '/b'), contextFor(policy, true));
    expect([enforcing.allowed, enforcing.reason, enforcing.response.status.code]).toEqual([false, 'policy_denied', 7]);
    expect([shadow.allowed, shadow.reason, shadow.response.status.code]).toEqual([true, 'shadow_denied', 0]);
    // a reload: the same context now asks another policy, which answers the same input otherwise
    let current = policy;
    const context: CheckContext = { ...contextFor(policy), policy: () => current };
    expect(runCheck(request('GET', '/c'), context).allowed).toBe(true);
    current = await loadPolicy({ path: compileRego('package t\n\ndecision := {"allowed": false}\n', 't/decision') });
    expect(runCheck(request('GET', '/c'), context)).toMatchObject({ allowed: false, reason: 'policy_denied' });
  });

  it('denies an invalid result every time it comes (it is not kept)', async () => {
    const context = contextFor(await load());
    for (let i = 0; i < 3; i++) {
      const outcome = runCheck(request('GET', '/invalid'), context);
      expect(outcome).toMatchObject({ allowed: false, reason: 'invalid_decision' });
      expect(outcome.template).toBeUndefined();
    }
    expect(runCheck(request('GET', '/valid'), context).allowed).toBe(true);
  });
});
