// After the answer is sent: the metrics of one Check and its decision log line.
import type { DecodedCheckRequest } from '../envoy/codec.js';
import { FAILURE_ANSWERS, type Reason } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import type { CheckOutcome } from './check.js';

export interface DecisionRecorders {
  logger: Logger;
  metrics: DecisionMetrics;
}

/** After the answer is sent: the metrics and the decision log line. */
export function recordDecision(dependencies: DecisionRecorders, request: DecodedCheckRequest, outcome: CheckOutcome, elapsedMs: number): void {
  dependencies.metrics.observe(outcome.reason, elapsedMs / 1000);
  if (outcome.ruleLabel !== undefined) dependencies.metrics.ruleDecided(outcome.ruleLabel, outcome.allowed);
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
  /** The workload called (Envoy's destination principal), so one service's decisions can be picked out. */
  destination_principal: string;
  host: string;
  method: string;
  path: string;
  duration_us: number;
  /** Envoy's x-request-id: the same value the sidecar's access log carries, to join the two. */
  request_id?: string;
  rule?: string;
  shadow_rules?: string[];
  error?: string;
}

// The caller chooses these values (the principals come from Envoy, the rest from the request): each is cut to a
// length that still identifies it, so a request cannot make one log line as large as its headers.
const MAX_LOGGED_VALUE = 256;

function bounded(value: string | undefined): string {
  if (value === undefined) return '';
  return value.length <= MAX_LOGGED_VALUE ? value : value.slice(0, MAX_LOGGED_VALUE) + '…';
}

function logDecision(logger: Logger, request: DecodedCheckRequest, outcome: CheckOutcome, elapsedMs: number): void {
  const attributes = request.kind === 'request' ? request.attributes : undefined;
  const http = attributes?.request?.http;
  const path = http?.path;
  const queryAt = path === undefined ? -1 : path.indexOf('?');
  // One object literal in one shape, optional keys assigned after (same key order as the line always had).
  const line: DecisionLine = {
    decision_id: outcome.decisionId,
    allowed: outcome.allowed,
    reason: outcome.reason,
    source_principal: bounded(outcome.sourcePrincipal ?? attributes?.source?.principal),
    destination_principal: bounded(attributes?.destination?.principal),
    host: bounded(http?.host),
    method: bounded(http?.method),
    path: bounded(path === undefined ? undefined : queryAt === -1 ? path : path.slice(0, queryAt)),
    duration_us: Math.round(elapsedMs * 1000),
  };
  const requestId = http?.headers?.['x-request-id'];
  if (typeof requestId === 'string') line.request_id = bounded(requestId);
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
