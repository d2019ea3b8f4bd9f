// The Check path: the stages in order, and the only catch (every failure becomes an explicit deny).
import { randomUUID } from 'node:crypto';
import type { DecodedCheckRequest } from '../envoy/codec.js';
import type { Attributes, CheckResponse } from '../envoy/types.js';
import { CheckFailure, describeError, toReason, type Reason } from '../errors.js';
import { buildIdentities, type IdentityOptions } from '../identity/identity.js';
import { verifyRequestTokens, type TokenFindings } from '../identity/jwt.js';
import type { GrpcBodyDecoder } from '../request/grpc-body.js';
import { withHeaderMap } from '../request/header-map.js';
import type { Decision } from './decision.js';
import { decidedFor, type DecisionSettings } from './decision-cache.js';
import { buildInput, type BuiltInput, type InputWriter } from './input.js';
import { checkRequestLimits, type RequestLimits } from './limits.js';
import type { Policy } from './policy.js';
import { toFailureResponse, withDecisionId } from './response.js';

export interface CheckContext extends DecisionSettings {
  /** The policy in force, read at each call so a reload takes effect on the next one. */
  policy(): Policy | undefined;
  skipBodyParse: boolean;
  /** From --proto-descriptor: parses application/grpc bodies into parsed_body. */
  grpcDescriptor?: GrpcBodyDecoder | undefined;
  identity: IdentityOptions;
  /** Path and header sizes beyond which a request is denied before anything else reads it. */
  limits: RequestLimits;
}

/** Everything one Check produced; the entrance sends and records it, `meshwarden eval` prints it. */
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
  /** The rule as a bounded metric label (a name the rules file declares, else `other`). */
  ruleLabel?: string;
  /** Shadow rules that would have denied this allowed request (dynamic_metadata.shadow_denies). */
  shadowRules?: string[];
  /** The bearer token verifications this Check waited for, for the metrics. */
  tokens?: TokenFindings;
  /** Whether the policy's result cache answered (set only for a policy that has one). */
  cache?: 'hit' | 'miss';
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
    checkRequestLimits(attributes, context.limits);
    const policy = context.policy();
    if (policy === undefined) throw new CheckFailure('no_policy', 'no policy is loaded');
    const input = inputFor(attributes, context, policy.inputWriter, tokens, outcome);
    outcome.inputJson = input.json;
    const cache = policy.resultCache;
    const cached = cache?.get(input.json);
    const resultText = cached ?? policy.evaluateText(input.json);
    // A result that is not a valid decision throws here, before it could be kept: no failure is cached.
    const decided = decidedFor(context, policy, resultText);
    if (cache !== undefined) {
      outcome.cache = cached === undefined ? 'miss' : 'hit';
      if (cached === undefined) cache.set(input.json, resultText);
    }
    outcome.resultSet = decided.resultSet;
    outcome.decision = decided.decision;
    outcome.template = decided.template;
    outcome.response = withDecisionId(decided.template, decisionId);
    outcome.allowed = decided.allowed;
    outcome.reason = decided.reason;
    if (decided.rule !== undefined) outcome.rule = decided.rule;
    if (decided.ruleLabel !== undefined) outcome.ruleLabel = decided.ruleLabel;
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

/** The identities and the input document (the policy's own, with `writer`); identity problems go on the outcome. */
function inputFor(attributes: Attributes, context: CheckContext, writer: InputWriter | undefined, tokens: TokenFindings | undefined, outcome: CheckOutcome): BuiltInput {
  // Headers sent only in header_map count as headers for every stage; the full document shows them as sent.
  const viewed = withHeaderMap(attributes);
  const identities = buildIdentities(viewed, context.identity, tokens?.svid);
  if (identities.refusal !== undefined) throw new CheckFailure('malformed_metadata_principal', `--source-principal-metadata: ${identities.refusal}`);
  const problems = tokens === undefined || tokens.problems.length === 0 ? identities.problems : [...identities.problems, ...tokens.problems];
  if (problems.length > 0) outcome.identityProblems = problems;
  outcome.sourcePrincipal = identities.source.principal;
  return buildInput(
    viewed,
    { skipBodyParse: context.skipBodyParse, grpcDescriptor: context.grpcDescriptor, writer, rendered: attributes },
    { source: identities.source, destination: identities.destination, jwt: tokens?.jwt },
  );
}

/**
 * The full opa-envoy-plugin input document of a request, whatever the policy in force is given (`eval
 * --full-input`: a Rego author learns the input the rules library reads a projection of). Throws
 * CheckFailure where a Check would be denied before the policy.
 */
export function fullInputOf(request: DecodedCheckRequest, context: CheckContext, tokens?: TokenFindings): string {
  const scratch: CheckOutcome = { decisionId: '', reason: 'internal_error', allowed: false, response: undefined as never };
  const attributes = attributesOf(request);
  checkRequestLimits(attributes, context.limits);
  return inputFor(attributes, context, undefined, tokens, scratch).json;
}

/**
 * runCheck, after verifying the bearer token when the request carries one and token verification is configured;
 * otherwise synchronous (the fast path). The promise never rejects, and settles within about `budgetMs`.
 */
export function startCheck(request: DecodedCheckRequest, context: CheckContext, budgetMs: number): CheckOutcome | Promise<CheckOutcome> {
  const attributes = request.kind === 'request' ? request.attributes : undefined;
  let pending: Promise<TokenFindings> | undefined;
  try {
    // A request over the limits is denied before its tokens are verified (runCheck throws the same failure).
    if (attributes !== undefined) checkRequestLimits(attributes, context.limits);
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

function attributesOf(request: DecodedCheckRequest): Attributes {
  switch (request.kind) {
    case 'too_large':
      throw new CheckFailure('request_too_large', `CheckRequest of ${request.byteLength} bytes is over the limit`);
    case 'undecodable':
      throw new CheckFailure('request_parse_error', `CheckRequest does not decode: ${request.error}`);
    case 'rejected':
      throw new CheckFailure(request.reason, request.error);
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
