// Prometheus metrics: the Check path adds to plain counts (folded into the counters when scraped) and observes.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FAILURE_ANSWERS, type Reason } from './errors.js';
import { JWT_REASONS, type JwtReason } from './identity/jwt.js';

/** The two kinds of bearer token meshwarden verifies (metric label values). */
export type TokenKind = 'jwt' | 'jwt_svid';

/** What the admin endpoint's /metrics renders: one process's registry, or every worker's aggregated. */
export interface MetricsExposition {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
}

export interface DecisionMetrics extends MetricsExposition {
  readonly registry: Registry;
  /** Counts one decision under its reason and records how long the Check took. */
  observe(reason: Reason, seconds: number): void;
  /** Counts a shadow deny of a named rule (the rules library's shadow rules). */
  shadowRule(rule: string): void;
  /** Counts one bearer token verification: an end-user JWT or a JWT-SVID, valid or why not. */
  tokenVerified(kind: TokenKind, result: 'valid' | JwtReason): void;
  /** Counts one lookup in the policy's result cache (check/result-cache.ts). */
  resultCacheLookup(result: 'hit' | 'miss'): void;
  /** Counts a policy load or reload and, on success, records the revision in force. */
  policyLoaded(result: 'success' | 'failure', revision?: string): void;
}

const REASONS: readonly Reason[] = ['allowed', 'policy_denied', 'shadow_denied', ...(Object.keys(FAILURE_ANSWERS) as Reason[])];

// Check latency is tens of microseconds in-process; the buckets span that up to Envoy's 200 ms default.
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2];

// More shadow rules than a rules file has in practice; longer names than a rule name is (rules/parse.ts).
const MAX_SHADOW_RULE_SERIES = 1000;
const MAX_RULE_NAME_LENGTH = 256;
/** The label that counts the shadow denies of rules past the bound. */
export const OTHER_RULES = '(other)';

export function createDecisionMetrics(): DecisionMetrics {
  const registry = new Registry();
  // Decisions since the last scrape, by index in REASONS (and the shadow denies among them): a decision
  // costs an array increment instead of prom-client's label lookup; collect() hands them over.
  const pending = new Float64Array(REASONS.length);
  let pendingShadowDenies = 0;
  const reasonIndex = new Map<Reason, number>(REASONS.map((reason, index) => [reason, index]));
  const decisions: Counter<'result' | 'reason'> = new Counter({
    name: 'meshwarden_decisions_total',
    help: 'Check decisions by result (allow or deny) and reason',
    labelNames: ['result', 'reason'] as const,
    registers: [registry],
    collect() {
      for (let index = 0; index < pending.length; index++) {
        if (pending[index] === 0) continue;
        children[index]!.inc(pending[index]);
        pending[index] = 0;
      }
    },
  });
  const shadowDenies = new Counter({
    name: 'meshwarden_shadow_denies_total',
    help: 'Requests a policy denied but shadow mode let pass',
    registers: [registry],
    collect() {
      if (pendingShadowDenies === 0) return;
      shadowDenies.inc(pendingShadowDenies);
      pendingShadowDenies = 0;
    },
  });
  const latency = new Histogram({
    name: 'meshwarden_check_duration_seconds',
    help: 'Time to decide one Check, from the decoded request to the encoded response',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const ruleShadowDenies = new Counter({
    name: 'meshwarden_rule_shadow_denies_total',
    help: 'Requests a shadow rule would have denied, by rule name',
    labelNames: ['rule'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'meshwarden_token_verifications_total',
    help: 'Bearer tokens verified, by kind (jwt: end-user, jwt_svid) and result (valid, or the reason it was not)',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  });
  for (const kind of ['jwt', 'jwt_svid'] as const) for (const result of ['valid', ...JWT_REASONS]) tokens.labels(kind, result).inc(0);
  const loads = new Counter({
    name: 'meshwarden_policy_loads_total',
    help: 'Policy loads and reloads by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const revision = new Gauge({
    name: 'meshwarden_policy_revision_info',
    help: 'The policy revision in force (value 1)',
    labelNames: ['revision'] as const,
    registers: [registry],
  });

  // Hits and misses since the last scrape, as the decisions are counted.
  const pendingLookups = { hit: 0, miss: 0 };
  const lookups: Counter<'result'> = new Counter({
    name: 'meshwarden_result_cache_lookups_total',
    help: "Lookups in the rules library's result cache, by result (hit: no evaluation; miss: evaluated)",
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      for (const result of ['hit', 'miss'] as const) {
        lookups.labels(result).inc(pendingLookups[result]);
        pendingLookups[result] = 0;
      }
    },
  });
  const children = REASONS.map((reason) => {
    const child = decisions.labels(reason === 'allowed' || reason === 'shadow_denied' ? 'allow' : 'deny', reason);
    child.inc(0); // every series exists from the start, so rates and alerts see zeros, not gaps
    return child;
  });
  const shadowDeniedIndex = reasonIndex.get('shadow_denied');
  const shadowRuleNames = new Set<string>();
  const loadResults = { success: loads.labels('success'), failure: loads.labels('failure') };
  loadResults.success.inc(0);
  loadResults.failure.inc(0);
  return {
    registry,
    observe(reason: Reason, seconds: number): void {
      const index = reasonIndex.get(reason);
      if (index !== undefined) {
        pending[index]!++;
        if (index === shadowDeniedIndex) pendingShadowDenies++;
      }
      latency.observe(seconds);
    },
    shadowRule(rule: string): void {
      // The names come from the policy's result, which a policy may fill from the request: past a bound (and
      // for names longer than any sensible rule name), one series stands for the rest, so the registry cannot grow with requests.
      const known = shadowRuleNames.has(rule);
      if (!known && (shadowRuleNames.size >= MAX_SHADOW_RULE_SERIES || rule.length > MAX_RULE_NAME_LENGTH)) {
        ruleShadowDenies.labels(OTHER_RULES).inc();
        return;
      }
      if (!known) shadowRuleNames.add(rule);
      ruleShadowDenies.labels(rule).inc();
    },
    resultCacheLookup(result: 'hit' | 'miss'): void {
      pendingLookups[result]++;
    },
    tokenVerified(kind: TokenKind, result: 'valid' | JwtReason): void {
      tokens.labels(kind, result).inc();
    },
    policyLoaded(result: 'success' | 'failure', loaded?: string): void {
      loadResults[result].inc();
      if (result === 'success' && loaded !== undefined) {
        revision.reset();
        revision.labels(loaded).set(1);
      }
    },
  };
}

/**
 * In a worker process (src/workers/): answer the primary's requests for this registry's metrics
 * (prom-client's cluster protocol over the IPC channel), so its /metrics sums every worker's.
 */
export function shareMetricsWithPrimary(metrics: DecisionMetrics): void {
  AggregatorRegistry.setRegistries([metrics.registry]);
  new AggregatorRegistry(); // installs the worker's listener for the primary's requests
}

/**
 * In the primary: /metrics as the aggregate of every connected worker's registry (counters and histograms
 * summed; the revision gauge then counts the workers serving each revision).
 */
export function createClusterMetrics(): MetricsExposition {
  const aggregator = new AggregatorRegistry();
  return { registry: { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType } };
}
