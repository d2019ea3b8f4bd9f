// After the answer is sent: the metrics of one Check and its decision log line.
import type { DecodedCheckRequest } from '../envoy/codec.js';
import { FAILURE_ANSWERS, type Reason } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import type { CheckOutcome } from './check.js';
import { createInputRedactor, type InputRedactor } from './redact-input.js';

/** Where each decision goes besides the log line: the decision log upload (src/management/). Must not throw. */
export interface DecisionEventSink {
  record(outcome: CheckOutcome): void;
}

export interface DecisionRecorders {
  logger: Logger;
  metrics: DecisionMetrics;
  /** Set when decision logs are uploaded (the OPA config file's decision_logs). */
  events?: DecisionEventSink | undefined;
  /** Redacts the policy input the debug log shows; without one, the default names are redacted. */
  redactInput?: InputRedactor;
}

const DEFAULT_REDACTOR = createInputRedactor();

/** After the answer is sent: the metrics and the decision log line. */
export function recordDecision(dependencies: DecisionRecorders, request: DecodedCheckRequest, outcome: CheckOutcome, elapsedMs: number): void {
  dependencies.metrics.observe(outcome.reason, elapsedMs / 1000);
  if (outcome.ruleLabel !== undefined) dependencies.metrics.ruleDecided(outcome.ruleLabel, outcome.allowed);
  if (outcome.shadowRules !== undefined) for (const rule of outcome.shadowRules) dependencies.metrics.shadowRule(rule);
  if (outcome.cache !== undefined) dependencies.metrics.resultCacheLookup(outcome.cache);
  const tokens = outcome.tokens;
  if (tokens !== undefined) {
    if (tokens.jwt !== undefined) dependencies.metrics.tokenVerified('jwt', tokens.jwt.valid ? 'valid' : tokens.jwt.reason);
    if (tokens.svid !== undefined) dependencies.metrics.tokenVerified('jwt_svid', 'valid');
    else if (tokens.svidRejected !== undefined) dependencies.metrics.tokenVerified('jwt_svid', tokens.svidRejected);
  }
  logDecision(dependencies.logger, request, outcome, elapsedMs);
  logPolicyInput(dependencies, outcome);
  dependencies.events?.record(outcome);
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

// A decision line names the caller and the path, which the caller chooses: a 1 MiB principal or path would make
// every line that long (1,000 such calls, a GB of log held in the logger's buffer while stdout drains). Longer
// values are cut, and say how much was cut.
const MAX_LOGGED_CHARACTERS = 1024;

/** `text`, or its first MAX_LOGGED_CHARACTERS characters and how many more there were. */
export function clipForLog(text: string): string {
  return text.length <= MAX_LOGGED_CHARACTERS ? text : `${text.slice(0, MAX_LOGGED_CHARACTERS)}…(+${text.length - MAX_LOGGED_CHARACTERS} characters)`;
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
    source_principal: clipForLog(outcome.sourcePrincipal ?? attributes?.source?.principal ?? ''),
    destination_principal: clipForLog(attributes?.destination?.principal ?? ''),
    host: clipForLog(http?.host ?? ''),
    method: clipForLog(http?.method ?? ''),
    path: path === undefined ? '' : clipForLog(queryAt === -1 ? path : path.slice(0, queryAt)),
    duration_us: Math.round(elapsedMs * 1000),
  };
  const requestId = http?.headers?.['x-request-id'];
  if (typeof requestId === 'string') line.request_id = clipForLog(requestId);
  if (outcome.rule !== undefined) line.rule = outcome.rule;
  if (outcome.shadowRules !== undefined) line.shadow_rules = outcome.shadowRules;
  if (outcome.error === undefined) {
    logger.info(line, 'decision');
  } else {
    const level = outcome.reason in FAILURE_ANSWERS ? FAILURE_ANSWERS[outcome.reason as keyof typeof FAILURE_ANSWERS].logLevel : 'error';
    line.error = clipForLog(outcome.error);
    logger[level](line, 'decision');
  }
  if (outcome.identityProblems !== undefined) {
    logger.warn({ decision_id: outcome.decisionId, problems: outcome.identityProblems }, 'identity material ignored');
  }
}

/** At debug level, the input the policy saw, with secrets redacted (redact-input.ts says which). */
function logPolicyInput(dependencies: DecisionRecorders, outcome: CheckOutcome): void {
  if (outcome.inputJson === undefined || !dependencies.logger.isLevelEnabled('debug')) return;
  const redact = dependencies.redactInput ?? DEFAULT_REDACTOR;
  dependencies.logger.debug({ decision_id: outcome.decisionId, input: redact(JSON.parse(outcome.inputJson) as unknown) }, 'policy input');
}
