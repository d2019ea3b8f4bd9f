// The Check handler: stages in order, the only catch, exactly one callback and one decision log line per call.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Deadline, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { DecodedCheckRequest } from '../envoy/codec.js';
import { parseDecision, type Decision } from './decision.js';
import { CheckFailure, FAILURE_ANSWERS, describeError, toReason, type Reason } from '../errors.js';
import { buildIdentities, type IdentityOptions } from '../identity/identity.js';
import type { GrpcBodyDecoder } from '../request/grpc-body.js';
import { buildInput, type Attributes } from './input.js';
import { DEFAULT_VERIFY_BUDGET_MS, verifyRequestTokens, type TokenFindings } from '../identity/jwt.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import type { Policy } from './policy.js';
import { responseTemplate, toFailureResponse, withDecisionId, type CheckResponse, type TemplatedResponse } from './response.js';

export interface CheckContext {
  /** The policy in force, read at each call so a reload takes effect on the next one. */
  policy(): Policy | undefined;
  shadow: boolean;
  skipBodyParse: boolean;
  /** From --proto-descriptor: parses application/grpc bodies into parsed_body. */
  grpcDescriptor?: GrpcBodyDecoder | undefined;
  validStatuses: ReadonlySet<number>;
  identity: IdentityOptions;
}

/** Everything one Check produced; the handler logs it, `meshwarden eval` prints it. */
export interface CheckOutcome {
  decisionId: string;
  reason: Reason;
  allowed: boolean;
  response: CheckResponse;
  /** The response without its decision_id, shared by every Check the policy answered alike (read-only). */
  template?: CheckResponse;
  /** Set when the input was built. */
  inputJson?: string;
  /** opa-wasm's raw result set, when the policy ran. */
  resultSet?: unknown;
  decision?: Decision;
  /** Internal error text, for the log only. */
  error?: string;
  /** Identity material that was malformed and ignored (log only). */
  identityProblems?: string[];
  /** The caller's principal as the policy saw it (mTLS, or the opt-in XFCC / JWT-SVID sources). */
  sourcePrincipal?: string;
  /** The rule that decided, when the policy names it (dynamic_metadata.rule, as the rules library does). */
  rule?: string;
  /** Shadow rules that would have denied this allowed request (dynamic_metadata.shadow_denies). */
  shadowRules?: string[];
  /** The bearer token verifications this Check waited for, for the metrics. */
  tokens?: TokenFindings;
}

/** Bearer-token verification that failed inside (a bug, not a bad token): runCheck turns it into a deny. */
export interface TokenFailure {
  failure: unknown;
}

/**
 * Runs the stages for one request. Never throws: every failure is an explicit deny.
 * `tokens` is what startCheck's verification found, when the request carried a bearer token it had to check.
 */
export function runCheck(request: DecodedCheckRequest, context: CheckContext, tokens?: TokenFindings | TokenFailure): CheckOutcome {
  const decisionId = randomUUID();
  const outcome: CheckOutcome = { decisionId, reason: 'internal_error', allowed: false, response: undefined as never };
  try {
    if (tokens !== undefined && 'failure' in tokens) throw tokens.failure;
    if (tokens !== undefined) outcome.tokens = tokens;
    const attributes = attributesOf(request);
    const policy = context.policy();
    if (policy === undefined) throw new CheckFailure('no_policy', 'no policy is loaded');
    const identities = buildIdentities(attributes, context.identity, tokens?.svid);
    const problems = tokens === undefined || tokens.problems.length === 0 ? identities.problems : [...identities.problems, ...tokens.problems];
    if (problems.length > 0) outcome.identityProblems = problems;
    outcome.sourcePrincipal = identities.source.principal;
    const input = buildInput(
      attributes,
      { skipBodyParse: context.skipBodyParse, grpcDescriptor: context.grpcDescriptor, rules: policy.rulesInput },
      { source: identities.source, destination: identities.destination, jwt: tokens?.jwt },
    );
    outcome.inputJson = input.json;
    const decided = decidedFor(context, policy, policy.evaluateText(input.json));
    outcome.resultSet = decided.resultSet;
    outcome.decision = decided.decision;
    outcome.template = decided.template;
    outcome.response = withDecisionId(decided.template, decisionId);
    outcome.allowed = decided.allowed;
    outcome.reason = decided.reason;
    if (decided.rule !== undefined) outcome.rule = decided.rule;
    if (decided.shadowRules !== undefined) outcome.shadowRules = decided.shadowRules;
  } catch (error) {
    const reason = toReason(error);
    outcome.reason = reason;
    outcome.allowed = false;
    outcome.error = describeError(error);
    outcome.response = toFailureResponse(reason, decisionId);
  }
  return outcome;
}

/** What a policy result means: the same for every Check whose result has the same JSON text. Read-only. */
interface Decided {
  resultSet: unknown;
  decision: Decision;
  template: CheckResponse;
  allowed: boolean;
  reason: Reason;
  rule?: string;
  shadowRules?: string[];
}

function decide(resultSet: unknown, context: CheckContext): Decided {
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
    if (typeof metadata['rule'] === 'string') decided.rule = metadata['rule'];
    const shadowDenies = metadata['shadow_denies'];
    if (decision.allowed && Array.isArray(shadowDenies) && shadowDenies.length > 0) {
      decided.shadowRules = shadowDenies.filter((name): name is string => typeof name === 'string');
      decided.reason = 'shadow_denied';
    }
  }
  return deepFreeze(decided);
}

// A policy answers most Checks with one of a few results (the rules library: a rule name and a reason), so
// each distinct result is parsed, validated and turned into a response once, per context and policy in
// force. A policy whose results all differ only refills the cache; it is emptied when full.
const DECISION_CACHE_SIZE = 1024;
const decisionCaches = new WeakMap<CheckContext, { policy: Policy; results: Map<string, Decided> }>();

function decidedFor(context: CheckContext, policy: Policy, resultText: string): Decided {
  let cache = decisionCaches.get(context);
  if (cache === undefined || cache.policy !== policy) {
    cache = { policy, results: new Map() };
    decisionCaches.set(context, cache);
  }
  let decided = cache.results.get(resultText);
  if (decided === undefined) {
    // A result that is not a valid decision throws here and is not kept.
    decided = decide(JSON.parse(resultText) as unknown, context);
    if (cache.results.size >= DECISION_CACHE_SIZE) cache.results.clear();
    cache.results.set(resultText, decided);
  }
  return decided;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<string | symbol, unknown>)[key]);
  }
  return value;
}

/**
 * runCheck, after verifying the bearer token when the request carries one and token verification is configured;
 * otherwise synchronous (the fast path). The promise never rejects, and settles within about `budgetMs`.
 */
export function startCheck(request: DecodedCheckRequest, context: CheckContext, budgetMs: number): CheckOutcome | Promise<CheckOutcome> {
  const attributes = request.kind === 'request' ? request.attributes : undefined;
  let pending: Promise<TokenFindings> | undefined;
  try {
    pending = attributes === undefined ? undefined : verifyRequestTokens(attributes, context.identity.tokens, budgetMs);
  } catch (failure) {
    return runCheck(request, context, { failure });
  }
  if (pending === undefined) return runCheck(request, context);
  return pending.then(
    (tokens) => runCheck(request, context, tokens),
    (failure: unknown) => runCheck(request, context, { failure }),
  );
}

// Room left after verification for the policy and the answer's way back to Envoy.
const DEADLINE_MARGIN_MS = 50;

/** How long token verification may take within a call's deadline (a default when the call has none). */
export function verificationBudgetMs(deadline: Deadline, now = Date.now()): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return DEFAULT_VERIFY_BUDGET_MS;
  const remaining = at - now;
  return Math.max(0, remaining - Math.min(DEADLINE_MARGIN_MS, remaining / 4));
}

function attributesOf(request: DecodedCheckRequest): Attributes {
  switch (request.kind) {
    case 'too_large':
      throw new CheckFailure('request_too_large', `CheckRequest of ${request.byteLength} bytes is over the limit`);
    case 'undecodable':
      throw new CheckFailure('request_parse_error', `CheckRequest does not decode: ${request.error}`);
    case 'request':
      if (request.attributes === undefined || isEmpty(request.attributes)) {
        throw new CheckFailure('missing_attributes', 'CheckRequest has no attributes');
      }
      return request.attributes;
  }
}

function isEmpty(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return false;
  return true;
}

export interface CheckHandlerDependencies {
  context: CheckContext;
  logger: Logger;
  metrics: DecisionMetrics;
}

/**
 * The grpc-js unary handler. Synchronous unless a bearer token must be verified; startCheck's promise never
 * rejects, so either way there is exactly one callback whatever happens.
 */
export function createCheckHandler(dependencies: CheckHandlerDependencies) {
  const { context } = dependencies;
  return function check(
    call: ServerUnaryCall<DecodedCheckRequest, CheckResponse | TemplatedResponse>,
    callback: sendUnaryData<CheckResponse | TemplatedResponse>,
  ): void {
    const started = performance.now();
    const finish = (outcome: CheckOutcome): void => {
      // The template and the decision id: the codec encodes a decision's response once (TemplatedResponse).
      callback(null, outcome.template === undefined ? outcome.response : { template: outcome.template, decisionId: outcome.decisionId });
      recordDecision(dependencies, call.request, outcome, started);
    };
    const result = startCheck(call.request, context, context.identity.tokens === undefined ? DEFAULT_VERIFY_BUDGET_MS : verificationBudgetMs(call.getDeadline()));
    if (result instanceof Promise) {
      result.then(finish).catch((error: unknown) => dependencies.logger.error({ error: describeError(error) }, 'recording a decision failed'));
    } else {
      finish(result);
    }
  };
}

/** After the answer is sent: the metrics and the decision log line. */
export function recordDecision(dependencies: CheckHandlerDependencies, request: DecodedCheckRequest, outcome: CheckOutcome, started: number): void {
  const elapsedMs = performance.now() - started;
  dependencies.metrics.observe(outcome.reason, elapsedMs / 1000);
  if (outcome.shadowRules !== undefined) for (const rule of outcome.shadowRules) dependencies.metrics.shadowRule(rule);
  const tokens = outcome.tokens;
  if (tokens !== undefined) {
    if (tokens.jwt !== undefined) dependencies.metrics.tokenVerified('jwt', tokens.jwt.valid ? 'valid' : tokens.jwt.reason);
    if (tokens.svid !== undefined) dependencies.metrics.tokenVerified('jwt_svid', 'valid');
    else if (tokens.svidRejected !== undefined) dependencies.metrics.tokenVerified('jwt_svid', tokens.svidRejected);
  }
  logDecision(dependencies.logger, request, outcome, elapsedMs);
}

/** The fields of the decision log line, in their order on the line. */
interface DecisionLine {
  decision_id: string;
  allowed: boolean;
  reason: Reason;
  source_principal: string;
  method: string;
  path: string;
  duration_us: number;
  rule?: string;
  shadow_rules?: string[];
  error?: string;
}

function logDecision(logger: Logger, request: DecodedCheckRequest, outcome: CheckOutcome, elapsedMs: number): void {
  const http = request.kind === 'request' ? request.attributes?.request?.http : undefined;
  const path = http?.path;
  const queryAt = path === undefined ? -1 : path.indexOf('?');
  // One object literal in one shape, optional keys assigned after (same key order as the line always had).
  const line: DecisionLine = {
    decision_id: outcome.decisionId,
    allowed: outcome.allowed,
    reason: outcome.reason,
    source_principal: outcome.sourcePrincipal ?? (request.kind === 'request' ? (request.attributes?.source?.principal ?? '') : ''),
    method: http?.method ?? '',
    path: path === undefined ? '' : queryAt === -1 ? path : path.slice(0, queryAt),
    duration_us: Math.round(elapsedMs * 1000),
  };
  if (outcome.rule !== undefined) line.rule = outcome.rule;
  if (outcome.shadowRules !== undefined) line.shadow_rules = outcome.shadowRules;
  if (outcome.error === undefined) {
    logger.info(line, 'decision');
  } else {
    const level = outcome.reason in FAILURE_ANSWERS ? FAILURE_ANSWERS[outcome.reason as keyof typeof FAILURE_ANSWERS].logLevel : 'error';
    line.error = outcome.error;
    logger[level](line, 'decision');
  }
  if (outcome.identityProblems !== undefined) {
    logger.warn({ decision_id: outcome.decisionId, problems: outcome.identityProblems }, 'identity material ignored');
  }
  if (outcome.inputJson !== undefined && logger.isLevelEnabled('debug')) {
    logger.debug({ decision_id: outcome.decisionId, input: JSON.parse(outcome.inputJson) as unknown }, 'policy input');
  }
}
