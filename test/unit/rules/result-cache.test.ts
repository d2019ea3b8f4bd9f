// The rules library's result cache never changes an answer: over random rules files and random requests,
// with reloads between them, every Check decided with the cache (hit or miss) answers exactly as the same
// Check decided by a policy without one; a reload starts from an empty cache; failures are never kept.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCheck, type CheckContext, type CheckOutcome } from '../../../src/check/check.js';
import { DEFAULT_REQUEST_LIMITS } from '../../../src/check/limits.js';
import { loadPolicy, type Policy } from '../../../src/check/policy.js';
import type { DecodedCheckRequest } from '../../../src/envoy/codec.js';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { createTrustDomains } from '../../../src/identity/spiffe.js';
import { RULES_DECISION, RULES_POLICY_BUNDLE, compileRulesFile, loadRulesLibrary } from '../../../src/rules/library.js';

const api = loadEnvoyApi();
const trustDomains = createTrustDomains({ local: 'cluster.local' });
const identity = { trustDomains, xfcc: false };
const dir = mkdtempSync(join(tmpdir(), 'meshwarden-result-cache-'));

// A small vocabulary, so that random rules match random requests and requests repeat (cache hits).
const SERVICES = ['a', 'b', 'c'];
const principal = (service: string): string => `cluster.local/ns/${service}/sa/${service}`;
const METHODS = ['GET', 'POST', 'DELETE'];
const PATTERNS = ['/api', '/api/*', '*.json', '/admin*'];
const PATHS = ['/api', '/api/x.json', '/api/v1?format=csv', '/admin/users', '/other', '/api/%2e%2e/admin'];
const TEAMS = ['blue', 'green'];

const ruleArbitrary = fc.record(
  {
    action: fc.constantFrom('ALLOW', 'DENY'),
    to: fc.record({ principals: fc.subarray(SERVICES.map(principal), { minLength: 1 }) }),
    from: fc.array(fc.oneof(fc.record({ principals: fc.subarray(SERVICES.map(principal), { minLength: 1 }) }), fc.record({ namespaces: fc.subarray(SERVICES, { minLength: 1 }) })), { minLength: 1, maxLength: 2 }),
    operations: fc.array(fc.record({ methods: fc.subarray(METHODS, { minLength: 1 }), paths: fc.subarray(PATTERNS, { minLength: 1 }) }), { minLength: 1, maxLength: 2 }),
    when: fc.array(fc.record({ key: fc.constant('request.headers[x-team]'), values: fc.subarray(TEAMS, { minLength: 1 }) }), { minLength: 1, maxLength: 1 }),
  },
  { requiredKeys: ['action'] },
);

const rulesFileArbitrary = fc.record({
  default: fc.constantFrom('deny', 'allow'),
  rules: fc.array(ruleArbitrary, { minLength: 1, maxLength: 6 }),
});

const requestArbitrary = fc.record({
  source: fc.option(fc.constantFrom(...SERVICES), { nil: undefined }),
  destination: fc.constantFrom(...SERVICES),
  method: fc.constantFrom(...METHODS),
  path: fc.constantFrom(...PATHS),
  team: fc.option(fc.constantFrom(...TEAMS, 'red'), { nil: undefined }),
});

type RulesFileShape = { default: string; rules: object[] };
type RequestShape = { source: string | undefined; destination: string; method: string; path: string; team: string | undefined };

// Checks pick from a few requests per run, so the same projection comes back (hits) among fresh ones (misses).
const stepArbitrary = fc.oneof({ arbitrary: fc.nat().map((pick) => ({ check: pick })), weight: 8 }, { arbitrary: rulesFileArbitrary.map((rules) => ({ reload: rules })), weight: 1 });

function decoded(request: RequestShape): DecodedCheckRequest {
  const headers: Record<string, string> = { ':authority': 'svc.example', ...(request.team === undefined ? {} : { 'x-team': request.team }) };
  return {
    kind: 'request',
    byteLength: 200,
    attributes: {
      ...(request.source === undefined ? {} : { source: { principal: `spiffe://${principal(request.source)}` } }),
      destination: { principal: `spiffe://${principal(request.destination)}` },
      request: { http: { method: request.method, path: request.path, host: 'svc.example', headers } },
    },
  };
}

let files = 0;

/** The rules file loaded twice: the rules library as served (with its cache), and the same without one. */
async function loadBoth(rules: RulesFileShape): Promise<{ cached: Policy; uncached: Policy }> {
  const named = { default: rules.default, rules: rules.rules.map((rule, i) => ({ name: `r${i}`, ...rule })) };
  const file = join(dir, `rules-${files++}.json`);
  writeFileSync(file, JSON.stringify(named));
  const compiled = compileRulesFile(file, trustDomains);
  const [cached, uncached] = await Promise.all([
    loadRulesLibrary(compiled),
    loadPolicy({ path: RULES_POLICY_BUNDLE, decision: RULES_DECISION }, { dataJson: compiled.dataJson, inputWriter: compiled.writer }),
  ]);
  return { cached, uncached };
}

function contextFor(current: () => Policy): CheckContext {
  return { policy: current, shadow: false, skipBodyParse: false, validStatuses: api.envoyStatusCodes, identity, limits: DEFAULT_REQUEST_LIMITS };
}

/** What a caller sees of an outcome, without the per-call decision id. */
function answerOf(outcome: CheckOutcome): unknown {
  return { allowed: outcome.allowed, reason: outcome.reason, rule: outcome.rule, template: outcome.template, error: outcome.error !== undefined, decision: outcome.decision };
}

describe('the rules library result cache', () => {
  it('answers every Check as an uncached policy does, over random rules, requests and reloads', async () => {
    let hits = 0;
    let misses = 0;
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(rulesFileArbitrary, fc.array(requestArbitrary, { minLength: 1, maxLength: 6 }), fc.array(stepArbitrary, { minLength: 5, maxLength: 40 }), async (first, requests, steps) => {
        let policies = await loadBoth(first as RulesFileShape);
        const cachedContext = contextFor(() => policies.cached);
        const uncachedContext = contextFor(() => policies.uncached);
        for (const step of steps) {
          if ('reload' in step) {
            policies = await loadBoth(step.reload as RulesFileShape);
            expect(policies.cached.resultCache?.size).toBe(0);
            continue;
          }
          const request = decoded(requests[step.check % requests.length]!);
          const withCache = runCheck(request, cachedContext);
          const without = runCheck(request, uncachedContext);
          expect(answerOf(withCache)).toEqual(answerOf(without));
          expect(without.cache).toBeUndefined();
          if (withCache.cache === 'hit') hits++;
          if (withCache.cache === 'miss') misses++;
          if (withCache.allowed) allowed++;
        }
      }),
      { numRuns: 100 },
    );
    // The property is only worth something if the cache answered a good share of the Checks.
    expect(hits).toBeGreaterThan(50);
    expect(misses).toBeGreaterThan(50);
    expect(allowed).toBeGreaterThan(20);
  }, 120_000);

  it('keeps no failure: a request denied before the policy runs is never looked up or kept', async () => {
    const { cached } = await loadBoth({ default: 'deny', rules: [{ action: 'ALLOW', to: { principals: [principal('a')] } }] });
    const context = contextFor(() => cached);
    const broken = decoded({ source: 'a', destination: 'a', method: 'GET', path: '/api?bad=%zz', team: undefined });
    for (let i = 0; i < 3; i++) {
      const outcome = runCheck(broken, context);
      expect(outcome.reason).toBe('request_parse_error');
      expect(outcome.cache).toBeUndefined();
    }
    expect(cached.resultCache?.size).toBe(0);
    const fine = decoded({ source: 'a', destination: 'a', method: 'GET', path: '/api', team: undefined });
    expect(runCheck(fine, context).cache).toBe('miss');
    expect(runCheck(fine, context).cache).toBe('hit');
    expect(cached.resultCache?.size).toBe(1);
  });
});
