// src/check/answer.ts: the one entrance both listeners call. Exactly one answer per call, a fail-closed deny when
// sending the decision throws, and the decision recorded as it was really answered.
import { DEFAULT_REQUEST_LIMITS } from '../../../src/check/limits.js';
import { describe, expect, it } from 'vitest';
import { createAnswerer, verificationBudgetMs, type CheckOutcome } from '../../../src/check/answer.js';
import type { CheckContext } from '../../../src/check/check.js';
import type { Policy } from '../../../src/check/policy.js';
import type { DecodedCheckRequest } from '../../../src/envoy/codec.js';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { DEFAULT_VERIFY_BUDGET_MS } from '../../../src/identity/jwt.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';
import { createLogger } from '../../../src/logger.js';
import { createDecisionMetrics } from '../../../src/metrics.js';

const api = loadEnvoyApi();

// A stand-in policy that always allows: the entrance is under test here, not evaluation.
const ALLOWING: Policy = {
  source: 'test',
  decision: 'test/allow',
  revision: 'r1',
  evaluate: () => [{ result: true }],
  evaluateText: () => '[{"result":true}]',
  hasEntrypoint: () => false,
  evaluateAt: () => undefined,
};

const request: DecodedCheckRequest = {
  kind: 'request',
  byteLength: 10,
  attributes: { source: { principal: 'spiffe://cluster.local/ns/a/sa/a' }, request: { http: { method: 'GET', path: '/x', headers: {} } } },
};

function setup() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = createDecisionMetrics();
  const context: CheckContext = {
    policy: () => ALLOWING,
    shadow: false,
    skipBodyParse: false,
    validStatuses: api.envoyStatusCodes,
    identity: { trustDomains: createTrustDomains({ local: 'cluster.local' }), xfcc: false },
    limits: DEFAULT_REQUEST_LIMITS,
  };
  return { lines, metrics, answer: createAnswerer({ context, logger, metrics }) };
}

const decisions = async (metrics: ReturnType<typeof createDecisionMetrics>): Promise<string> =>
  (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('meshwarden_decisions_total{') && !line.endsWith(' 0')).join('\n');

describe('the entrance to the Check path', () => {
  it('sends the decision once and records it', async () => {
    const { lines, metrics, answer } = setup();
    const sent: CheckOutcome[] = [];
    answer(request, Infinity, (outcome) => sent.push(outcome));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ allowed: true, reason: 'allowed' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.filter((line) => line['msg'] === 'decision')).toEqual([expect.objectContaining({ allowed: true, reason: 'allowed', decision_id: sent[0]!.decisionId })]);
    expect(await decisions(metrics)).toBe('meshwarden_decisions_total{result="allow",reason="allowed"} 1');
  });

  it('sends a fail-closed deny in place of an answer that cannot be sent, logs why, and records the deny', async () => {
    const { lines, metrics, answer } = setup();
    const sent: CheckOutcome[] = [];
    let attempts = 0;
    answer(request, Infinity, (outcome) => {
      attempts++;
      if (outcome.allowed) throw new TypeError('Invalid character in header content ["x-user"]');
      sent.push(outcome);
    });
    expect(attempts).toBe(2);
    expect(sent).toHaveLength(1);
    const deny = sent[0]!;
    expect(deny).toMatchObject({ allowed: false, reason: 'internal_error', sourcePrincipal: 'spiffe://cluster.local/ns/a/sa/a' });
    expect(deny.template).toBeUndefined();
    expect(deny.response.status).toEqual({ code: 7, message: 'internal_error' });
    expect(deny.response.deniedResponse?.status.code).toBe(403);
    expect(deny.response.dynamicMetadata.fields['decision_id']).toEqual({ stringValue: deny.decisionId });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.find((line) => line['msg'] === 'the answer could not be sent; a fail-closed deny was sent instead')).toMatchObject({
      decision_id: deny.decisionId,
      error: 'Invalid character in header content ["x-user"]',
    });
    expect(lines.filter((line) => line['msg'] === 'decision')).toEqual([expect.objectContaining({ allowed: false, reason: 'internal_error', decision_id: deny.decisionId })]);
    expect(await decisions(metrics)).toBe('meshwarden_decisions_total{result="deny",reason="internal_error"} 1');
  });

  it('never throws, even when the deny cannot be sent either', async () => {
    const { lines, answer } = setup();
    expect(() =>
      answer(request, Infinity, () => {
        throw new Error('socket gone');
      }),
    ).not.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((line) => line['msg'])).toEqual(
      expect.arrayContaining(['the answer could not be sent; a fail-closed deny was sent instead', 'the fail-closed deny could not be sent either', 'decision']),
    );
  });
});

describe('the verification budget', () => {
  it('leaves a margin before the deadline, and uses the default without one', () => {
    expect(verificationBudgetMs(Infinity)).toBe(DEFAULT_VERIFY_BUDGET_MS);
    expect(verificationBudgetMs(new Date(1_500), 1_000)).toBe(400);
    expect(verificationBudgetMs(3_000, 1_000)).toBe(1_900);
    expect(verificationBudgetMs(1_200, 1_000)).toBe(150);
    expect(verificationBudgetMs(1_100, 1_000)).toBe(75);
    expect(verificationBudgetMs(900, 1_000)).toBe(0);
  });
});

describe('the decision line is bounded whatever the caller sends', () => {
  it('a 1 MiB principal, method and path are cut to 1,024 characters, saying how much was cut', async () => {
    const { lines, answer } = setup();
    const huge: DecodedCheckRequest = {
      kind: 'request',
      byteLength: 3 << 20,
      attributes: { source: { principal: 'p'.repeat(1 << 20) }, request: { http: { method: 'M'.repeat(1 << 20), path: '/' + 'a'.repeat(1 << 20) + '?q=1', headers: {} } } },
    };
    answer(huge, Infinity, () => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    const line = lines.find((entry) => entry['msg'] === 'decision')!;
    expect(line['source_principal']).toBe('p'.repeat(1024) + `…(+${(1 << 20) - 1024} characters)`);
    expect(String(line['method']).length).toBeLessThan(1100);
    expect(String(line['path'])).toMatch(/^\/a{1023}…\(\+1047553 characters\)$/);
    expect(JSON.stringify(line).length).toBeLessThan(4096);
  });
});
