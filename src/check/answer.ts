// The one entrance to the Check path: the gRPC and the HTTP listener hand it a decoded request and a way to
// send, and exactly one answer goes back, a fail-closed deny if sending the decision fails; then the
// decision is recorded (metrics, decision log line).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DecodedCheckRequest } from '../envoy/codec.js';
import type { CheckResponse } from '../envoy/types.js';
import { describeError } from '../errors.js';
import { DEFAULT_VERIFY_BUDGET_MS } from '../identity/jwt.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import { startCheck, type CheckContext, type CheckOutcome } from './check.js';
import { recordDecision, type DecisionEventSink } from './decision-log.js';
import type { InputRedactor } from './redact-input.js';
import { toFailureResponse } from './response.js';

export type { CheckOutcome };

export interface AnswerDependencies {
  context: CheckContext;
  logger: Logger;
  metrics: DecisionMetrics;
  /** The decision log upload, when configured. */
  events?: DecisionEventSink | undefined;
  /** Redacts the policy input the debug log shows (the default names when left out). */
  redactInput?: InputRedactor;
  /** Tracing of each Check (tracing/), when an OTLP endpoint is configured. */
  tracing?: CheckTracing | undefined;
}

/** A span per Check: started when the request arrives, ended with what was sent. Implemented in tracing/. */
export interface CheckTracing {
  start(request: DecodedCheckRequest): CheckSpan;
}

export interface CheckSpan {
  end(outcome: CheckOutcome): void;
}

/**
 * Sends an outcome on the listener's protocol. It may throw (a value the protocol refuses): then the
 * entrance sends the fail-closed deny through it instead, so it must leave nothing half-sent behind.
 */
export type SendAnswer = (outcome: CheckOutcome) => void;

/** Decides `request` and sends the answer; `deadline` is the call's (a Date or epoch ms, Infinity when it has none). Never throws. */
export type AnswerCheck = (request: DecodedCheckRequest, deadline: Date | number, send: SendAnswer) => void;

/** The deny sent in place of an answer that cannot be sent or encoded (the codec's fallback). */
export function internalErrorResponse(decisionId: string): CheckResponse {
  return toFailureResponse('internal_error', decisionId);
}

/** The deny sent to a call that did not end within the listener's time bound. */
export function callTimeoutResponse(decisionId: string): CheckResponse {
  return toFailureResponse('call_timeout', decisionId);
}

/** Why a listener refused a Check's caller before reading its request (listeners/grpc-tls.ts). */
export interface CallerRefusal {
  /**
   * What the log line's `error` says (no URI SAN, `<id> is not an allowed caller`, …); never sent to the caller.
   * The caller here is the proxy that asks (Envoy), not the request's source, so it is not the line's source_principal.
   */
  detail: string;
}

/** Records a refused Check like any other deny (metrics, decision log) and returns the deny CheckResponse to send. */
export type RefuseCheck = (refusal: CallerRefusal) => CheckResponse;

/**
 * The refusal entrance: a mutual-TLS caller the allow-list refuses gets a `caller_not_allowed` deny CheckResponse,
 * not an RPC error (which Envoy lets through under failure_mode_allow). No policy is evaluated; the deny is
 * counted and logged as every other one is.
 */
export function createCheckRefusal(dependencies: AnswerDependencies): RefuseCheck {
  return (refusal) => {
    const decisionId = randomUUID();
    const outcome: CheckOutcome = { decisionId, reason: 'caller_not_allowed', allowed: false, response: toFailureResponse('caller_not_allowed', decisionId), error: refusal.detail };
    try {
      recordDecision(dependencies, { kind: 'rejected', reason: 'caller_not_allowed', byteLength: 0, error: refusal.detail }, outcome, 0);
    } catch (error) {
      dependencies.logger.error({ decision_id: decisionId, error: describeError(error) }, 'recording a decision failed');
    }
    return outcome.response;
  };
}

/** The deny sent to a call whose message the listener would not take in: the buffer budget had no room for it. */
export function bufferBudgetResponse(decisionId: string): CheckResponse {
  return toFailureResponse('buffer_budget_exceeded', decisionId);
}

export function createAnswerer(dependencies: AnswerDependencies): AnswerCheck {
  const { context, logger } = dependencies;
  return (request, deadline, send) => {
    const started = performance.now();
    const span = startSpan(dependencies, request);
    // Without token verification configured, the budget is never read: no clock on the fast path.
    const budgetMs = context.identity.tokens === undefined ? DEFAULT_VERIFY_BUDGET_MS : verificationBudgetMs(deadline);
    const result = startCheck(request, context, budgetMs);
    if (!(result instanceof Promise)) {
      deliver(dependencies, request, result, send, started, span);
      return;
    }
    // startCheck's promise never rejects; should it, the call still gets its deny.
    result.then(
      (outcome) => deliver(dependencies, request, outcome, send, started, span),
      (error: unknown) => {
        logger.error({ error: describeError(error) }, 'a Check failed outside its stages');
        deliver(dependencies, request, failed({ decisionId: '', reason: 'internal_error', allowed: false, response: internalErrorResponse('') }, error), send, started, span);
      },
    );
  };
}

/** Sends the outcome, or the fail-closed deny when that throws, then records what was really sent. */
/** The Check's span, if tracing is on; tracing that throws is logged and leaves the Check untraced. */
function startSpan(dependencies: AnswerDependencies, request: DecodedCheckRequest): CheckSpan | undefined {
  if (dependencies.tracing === undefined) return undefined;
  try {
    return dependencies.tracing.start(request);
  } catch (error) {
    dependencies.logger.error({ error: describeError(error) }, 'starting a trace span failed');
    return undefined;
  }
}

function deliver(dependencies: AnswerDependencies, request: DecodedCheckRequest, outcome: CheckOutcome, send: SendAnswer, started: number, span?: CheckSpan): void {
  let sent = outcome;
  try {
    send(outcome);
  } catch (error) {
    sent = failed(outcome, error);
    dependencies.logger.error({ decision_id: outcome.decisionId, error: describeError(error) }, 'the answer could not be sent; a fail-closed deny was sent instead');
    try {
      send(sent);
    } catch (again) {
      dependencies.logger.error({ decision_id: outcome.decisionId, error: describeError(again) }, 'the fail-closed deny could not be sent either');
    }
  }
  try {
    recordDecision(dependencies, request, sent, performance.now() - started);
  } catch (error) {
    dependencies.logger.error({ decision_id: outcome.decisionId, error: describeError(error) }, 'recording a decision failed');
  }
  if (span !== undefined) {
    try {
      span.end(sent);
    } catch (error) {
      dependencies.logger.error({ decision_id: outcome.decisionId, error: describeError(error) }, 'ending a trace span failed');
    }
  }
}

/** The outcome as the internal_error deny that replaced it, keeping what the log line names (principal, rule). */
function failed(outcome: CheckOutcome, error: unknown): CheckOutcome {
  const { template: _template, decision: _decision, ...kept } = outcome;
  return { ...kept, reason: 'internal_error', allowed: false, error: describeError(error), response: internalErrorResponse(outcome.decisionId) };
}

// Room left after verification for the policy and the answer's way back to Envoy: a quarter of what remains,
// up to 100 ms (a fresh wasm instance's first evaluation and a busy event loop took more than 50 ms).
const DEADLINE_MARGIN_MS = 100;

/** How long token verification may take within a call's deadline (a default when the call has none). */
export function verificationBudgetMs(deadline: Date | number, now = Date.now()): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return DEFAULT_VERIFY_BUDGET_MS;
  const remaining = at - now;
  return Math.max(0, remaining - Math.min(DEADLINE_MARGIN_MS, remaining / 4));
}
