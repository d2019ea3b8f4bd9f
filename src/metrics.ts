// Prometheus metrics: the Check path adds to plain counts (folded into the counters when scraped) and observes.
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FAILURE_ANSWERS, POLICY_DENY_REASONS, type Reason } from './errors.js';
import { JWT_REASONS, type JwtReason } from './identity/jwt.js';
import { PACKAGE_VERSION } from './package-paths.js';

/** What one poll of a bundle server came to (src/management/bundle-downloader.ts). */
export type BundlePollResult = 'activated' | 'not_modified' | 'download_failed' | 'rejected';
const BUNDLE_POLL_RESULTS: readonly BundlePollResult[] = ['activated', 'not_modified', 'download_failed', 'rejected'];

/** What became of decision log events (src/management/decision-log-upload.ts), each counted. */
export type DecisionLogResult =
  | 'buffered'
  | 'uploaded'
  | 'retried'
  | 'upload_failed'
  | 'dropped_buffer_full'
  | 'dropped_rate_limit'
  | 'dropped_too_large'
  | 'dropped_by_policy'
  | 'dropped_at_shutdown'
  | 'encoding_failed';
const DECISION_LOG_RESULTS: readonly DecisionLogResult[] = [
  'buffered',
  'uploaded',
  'retried',
  'upload_failed',
  'dropped_buffer_full',
  'dropped_rate_limit',
  'dropped_too_large',
  'dropped_by_policy',
  'dropped_at_shutdown',
  'encoding_failed',
];

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
  /** Counts a decision under the rule that made it, a bounded label (Policy.ruleNames, else `other`). */
  ruleDecided(ruleLabel: string, allowed: boolean): void;
  /** Counts a shadow deny of a named rule (the rules library's shadow rules). */
  shadowRule(rule: string): void;
  /** Counts one bearer token verification: an end-user JWT or a JWT-SVID, valid or why not. */
  tokenVerified(kind: TokenKind, result: 'valid' | JwtReason): void;
  /** Counts one lookup in the policy's result cache (check/result-cache.ts). */
  resultCacheLookup(result: 'hit' | 'miss'): void;
  /**
   * Counts a policy load or reload and, on success, records the revision in force; the rule names of a rules
   * file get their per-rule series at zero, so an alert on a rule sees zeros before its first decision.
   */
  policyLoaded(result: 'success' | 'failure', revision?: string, ruleNames?: ReadonlySet<string>): void;
  /** Counts a TLS certificate reload by result and, on success, records the new certificate's expiry. */
  tlsReloaded(result: 'success' | 'failure', notAfter?: Date): void;
  /** Registers a bundle of the OPA config file, so its series exist (at zero) before its first poll. */
  bundleConfigured(bundle: string): void;
  /** Counts one poll of a bundle's server (or the persisted bundle's load) by its result. */
  bundlePolled(bundle: string, result: BundlePollResult, loaded: boolean): void;
  /** Registers decision log upload, so its series exist (at zero) from the start. */
  decisionLogsConfigured(): void;
  /** Counts `count` decision log events by what became of them. */
  decisionLogEvents(result: DecisionLogResult, count: number): void;
}

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (RSS, CPU, event-loop lag, GC): on for a server, off in unit tests. */
  processMetrics?: boolean;
}

const REASONS: readonly Reason[] = ['allowed', 'policy_denied', ...POLICY_DENY_REASONS, 'shadow_denied', ...(Object.keys(FAILURE_ANSWERS) as Reason[])];

// More shadow rules than a rules file has in practice; longer names than a rule name is (rules/parse.ts).
const MAX_SHADOW_RULE_SERIES = 1000;
const MAX_RULE_NAME_LENGTH = 256;
/** The label that counts the shadow denies of rules past the bound. */
export const OTHER_RULES = '(other)';

// Check latency is tens of microseconds in-process; the buckets span that, Envoy's 200 ms default timeout and
// the mesh providers' 0.5 s (istio/meshwarden.yaml), so a Check slow enough to time out lands in a bucket of its own.
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5];

export function createDecisionMetrics(options: MetricsOptions = {}): DecisionMetrics {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'meshwarden_build_info',
    help: 'The meshwarden version and the Node.js version running it (value 1)',
    labelNames: ['version', 'node_version'] as const,
    registers: [registry],
  })
    .labels(PACKAGE_VERSION, process.versions.node)
    .set(1);
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
  const ruleDecisions = new Counter({
    name: 'meshwarden_rule_decisions_total',
    help: 'Decisions by the rule that made them (a name the rules file declares, default, or other) and result',
    labelNames: ['rule', 'result'] as const,
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
  const tlsReloads = new Counter({
    name: 'meshwarden_tls_reloads_total',
    help: 'TLS certificate reloads (a rotated file) by result; a failure keeps the pair in force',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const result of ['success', 'failure']) tlsReloads.labels(result).inc(0);
  const tlsExpiry = new Gauge({
    name: 'meshwarden_tls_certificate_expiry_timestamp_seconds',
    help: 'When the TLS certificate in force expires (Unix time)',
    registers: [registry],
  });
  const revision = new Gauge({
    name: 'meshwarden_policy_revision_info',
    help: 'The policy revision in force (value 1)',
    labelNames: ['revision'] as const,
    registers: [registry],
  });

  const bundlePolls = new Counter({
    name: 'meshwarden_bundle_polls_total',
    help: 'Polls of a bundle server by bundle and result: activated, not_modified (304), download_failed, rejected (a bad bundle; the last good one kept serving)',
    labelNames: ['bundle', 'result'] as const,
    registers: [registry],
  });
  const bundleLoaded = new Gauge({
    name: 'meshwarden_bundle_loaded',
    help: 'Whether a bundle of the OPA config file has been activated (1) or not yet (0)',
    labelNames: ['bundle'] as const,
    registers: [registry],
  });

  const decisionLogEvents = new Counter({
    name: 'meshwarden_decision_log_events_total',
    help: 'Decision log events by what became of them: buffered, uploaded, retried (uploaded after a failed upload), upload_failed (kept for a retry), dropped_* and encoding_failed (lost, and why)',
    labelNames: ['result'] as const,
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
    ruleDecided(ruleLabel: string, allowed: boolean): void {
      ruleDecisions.labels(ruleLabel, allowed ? 'allow' : 'deny').inc();
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
    bundleConfigured(bundle: string): void {
      for (const result of BUNDLE_POLL_RESULTS) bundlePolls.labels(bundle, result).inc(0);
      bundleLoaded.labels(bundle).set(0);
    },
    bundlePolled(bundle: string, result: BundlePollResult, loaded: boolean): void {
      bundlePolls.labels(bundle, result).inc();
      bundleLoaded.labels(bundle).set(loaded ? 1 : 0);
    },
    decisionLogsConfigured(): void {
      for (const result of DECISION_LOG_RESULTS) decisionLogEvents.labels(result).inc(0);
    },
    decisionLogEvents(result: DecisionLogResult, count: number): void {
      decisionLogEvents.labels(result).inc(count);
    },
    tlsReloaded(result: 'success' | 'failure', notAfter?: Date): void {
      tlsReloads.labels(result).inc();
      if (notAfter !== undefined) tlsExpiry.set(notAfter.getTime() / 1000);
    },
    policyLoaded(result: 'success' | 'failure', loaded?: string, ruleNames?: ReadonlySet<string>): void {
      loadResults[result].inc();
      if (result === 'success' && ruleNames !== undefined) {
        for (const rule of [...ruleNames, 'other']) for (const decided of ['allow', 'deny']) ruleDecisions.labels(rule, decided).inc(0);
      }
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
 * What the primary of `serve --workers N` counts itself when it runs the OPA config file's management plane
 * (src/workers/management-plane.ts): the bundle polls and activations, and the decision-log events.
 */
export const PRIMARY_OWNED_METRICS: readonly string[] = ['meshwarden_bundle_polls_total', 'meshwarden_bundle_loaded', 'meshwarden_policy_loads_total', 'meshwarden_decision_log_events_total'];

/**
 * In the primary: /metrics as the aggregate of every connected worker's registry (counters and histograms
 * summed; the revision gauge then counts the workers serving each revision), and, for the `families` the
 * primary counts itself (`own`), the primary's own series in place of the workers' (which have none).
 */
export function createClusterMetrics(own?: { metrics: DecisionMetrics; families: readonly string[] }): MetricsExposition {
  const aggregator = new AggregatorRegistry();
  const metrics = async (): Promise<string> => {
    const workers = await aggregator.clusterMetrics();
    if (own === undefined) return workers;
    const owned = new Set(own.families);
    // The text format: one block per family, each starting with its # HELP line.
    const blocks = workers.split(/^(?=# HELP )/m).filter((block) => !owned.has(/^# HELP (\S+)/.exec(block)?.[1] ?? ''));
    const mine = await Promise.all(own.families.map((name) => own.metrics.registry.getSingleMetricAsString(name)));
    return `${blocks.map((block) => (block.endsWith('\n') ? block : `${block}\n`)).join('')}${mine.map((text) => `${text}\n`).join('')}`;
  };
  return { registry: { metrics, contentType: aggregator.contentType } };
}
