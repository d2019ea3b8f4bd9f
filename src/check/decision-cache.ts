// A policy answers most Checks with one of a few results (the rules library: a rule name and a reason), so each
// distinct result is parsed, validated and turned into a response once, per context and policy in force.
import { BoundedCache, stringBytes, type CacheLimits } from '../bounded-cache.js';
import type { CheckResponse } from '../envoy/types.js';
import { POLICY_DENY_REASONS, type PolicyDenyReason, type Reason } from '../errors.js';
import { parseDecision, type Decision } from './decision.js';
import type { Policy } from './policy.js';
import { responseTemplate } from './response.js';

/** What turns a result into a decision besides the result itself (check.ts CheckContext has both). */
export interface DecisionSettings {
  /** Policy denies pass, logged as shadow denies. */
  readonly shadow: boolean;
  /** The HTTP statuses Envoy accepts. */
  readonly validStatuses: ReadonlySet<number>;
}

/** What a policy result means: the same for every Check whose result has the same JSON text. Read-only. */
interface Decided {
  resultSet: unknown;
  decision: Decision;
  template: CheckResponse;
  allowed: boolean;
  reason: Reason;
  rule?: string;
  /** The rule as a metric label: a name the loaded rules file declares, else `other` (Policy.ruleNames). */
  ruleLabel?: string;
  shadowRules?: string[];
}

const POLICY_DENY_REASON_SET: ReadonlySet<string> = new Set(POLICY_DENY_REASONS);

function decide(resultSet: unknown, context: DecisionSettings, ruleNames: ReadonlySet<string> | undefined): Decided {
  const decision = parseDecision(resultSet, context.validStatuses);
  const decided: Decided = {
    resultSet,
    decision,
    template: responseTemplate(decision, context.shadow),
    allowed: decision.allowed || context.shadow,
    reason: decision.allowed ? 'allowed' : context.shadow ? 'shadow_denied' : 'policy_denied',
  };
  const metadata = decision.dynamicMetadata;
  if (metadata !== undefined) {
    const rule = metadata['rule'];
    if (typeof rule === 'string') {
      decided.rule = rule;
      decided.ruleLabel = ruleNames?.has(rule) === true ? rule : 'other';
    }
    const reason = metadata['reason'];
    if (decided.reason === 'policy_denied' && typeof reason === 'string' && POLICY_DENY_REASON_SET.has(reason)) decided.reason = reason as PolicyDenyReason;
    const shadowDenies = metadata['shadow_denies'];
    if (decision.allowed && Array.isArray(shadowDenies) && shadowDenies.length > 0) {
      decided.shadowRules = shadowDenies.filter((name): name is string => typeof name === 'string');
      decided.reason = 'shadow_denied';
    }
  }
  return deepFreeze(decided);
}

// A policy whose results all differ only refills the cache, oldest first. A result is usually a few hundred
// bytes; a policy can echo the request into its result, so a long one is decided every time and never kept,
// and the bytes the cache holds are bounded (a decided result holds about four times its text: the parsed
// result, the decision, the response template).
export const DECISION_CACHE_LIMITS: CacheLimits = Object.freeze({ maxEntries: 1024, maxBytes: 8 * 1024 * 1024, maxKeyLength: 16 * 1024 });
const decisionCaches = new WeakMap<DecisionSettings, { policy: Policy; results: BoundedCache<Decided> }>();

const decidedBytes = (resultText: string): number => 5 * stringBytes(resultText);

export function decidedFor(context: DecisionSettings, policy: Policy, resultText: string): Decided {
  let cache = decisionCaches.get(context);
  if (cache === undefined || cache.policy !== policy) {
    cache = { policy, results: new BoundedCache(DECISION_CACHE_LIMITS, decidedBytes) };
    decisionCaches.set(context, cache);
  }
  let decided = cache.results.get(resultText);
  if (decided === undefined) {
    // A result that is not a valid decision throws here and is not kept.
    decided = decide(JSON.parse(resultText) as unknown, context, policy.ruleNames);
    cache.results.set(resultText, decided);
  }
  return decided;
}

/** What the decision cache of `context` holds now (estimated bytes and entries), for tests and diagnostics. */
export function decisionCacheUsage(context: DecisionSettings): { bytes: number; entries: number } {
  const results = decisionCaches.get(context)?.results;
  return { bytes: results?.bytes ?? 0, entries: results?.size ?? 0 };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<string | symbol, unknown>)[key]);
  }
  return value;
}
