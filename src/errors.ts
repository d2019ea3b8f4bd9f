// Stable reason codes for every way a Check can end, and the one table that maps them to answers.

/** Reasons a request is denied without (or despite) the policy; each ends in an explicit deny. */
export type FailureReason =
  | 'missing_attributes'
  | 'request_too_large'
  | 'path_too_long'
  | 'headers_too_large'
  | 'malformed_request'
  | 'request_parse_error'
  | 'no_policy'
  | 'undefined_decision'
  | 'multiple_results'
  | 'evaluation_error'
  | 'invalid_decision'
  | 'forbidden_mutation'
  | 'call_timeout'
  | 'caller_not_allowed'
  | 'malformed_metadata_principal'
  | 'buffer_budget_exceeded'
  | 'internal_error';

/**
 * The rules library's deny reasons (its dynamic_metadata.reason, the x-ext-authz-reason header), kept apart in the
 * log and the metrics; a policy deny with any other reason, or none, is `policy_denied`. A fixed list, so the
 * metric's label set stays bounded whatever a policy writes.
 */
export const POLICY_DENY_REASONS = ['denied_by_rule', 'no_allow_rule_matched', 'default_deny'] as const;
export type PolicyDenyReason = (typeof POLICY_DENY_REASONS)[number];

/** Every reason a decision log line can carry. */
export type Reason = 'allowed' | 'policy_denied' | PolicyDenyReason | 'shadow_denied' | FailureReason;

export interface FailureAnswer {
  /**
   * google.rpc.Code in CheckResponse.status. Envoy denies on any non-zero code, but it once tried to
   * treat codes other than 7/16 as errors (which fail open), so every deny uses PERMISSION_DENIED.
   */
  grpcCode: number;
  /** HTTP status the client receives (DeniedHttpResponse.status). */
  httpStatus: number;
  logLevel: 'warn' | 'error';
}

const PERMISSION_DENIED = 7;

export const FAILURE_ANSWERS: Readonly<Record<FailureReason, FailureAnswer>> = Object.freeze({
  missing_attributes: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'warn' },
  request_too_large: { grpcCode: PERMISSION_DENIED, httpStatus: 413, logLevel: 'warn' },
  path_too_long: { grpcCode: PERMISSION_DENIED, httpStatus: 414, logLevel: 'warn' },
  headers_too_large: { grpcCode: PERMISSION_DENIED, httpStatus: 431, logLevel: 'warn' },
  malformed_request: { grpcCode: PERMISSION_DENIED, httpStatus: 400, logLevel: 'warn' },
  request_parse_error: { grpcCode: PERMISSION_DENIED, httpStatus: 400, logLevel: 'warn' },
  no_policy: { grpcCode: PERMISSION_DENIED, httpStatus: 503, logLevel: 'error' },
  undefined_decision: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
  multiple_results: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
  evaluation_error: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
  invalid_decision: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
  forbidden_mutation: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
  // A call that did not end within --call-timeout-ms (a stalled upload, typically): 408, never a 5xx.
  call_timeout: { grpcCode: PERMISSION_DENIED, httpStatus: 408, logLevel: 'warn' },
  // The mutual-TLS caller (Envoy itself) is not on --tls-allowed-spiffe-ids: denied before the policy.
  caller_not_allowed: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'warn' },
  // The metadata --source-principal-metadata names holds something other than a SPIFFE ID: the filter that
  // writes it is misconfigured or has been bypassed, so nothing about the caller can be trusted.
  malformed_metadata_principal: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
  // Taking in this message would put the bytes held for unfinished messages past --max-buffered-bytes: 429 (come
  // back later), never a 5xx.
  buffer_budget_exceeded: { grpcCode: PERMISSION_DENIED, httpStatus: 429, logLevel: 'warn' },
  internal_error: { grpcCode: PERMISSION_DENIED, httpStatus: 403, logLevel: 'error' },
});

/** A failure with a stable code; `message` is for the log only and never reaches the caller. */
export class CheckFailure extends Error {
  readonly reason: FailureReason;
  constructor(reason: FailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckFailure';
    this.reason = reason;
  }
}

/** Maps anything thrown to a reason code; unknown errors are internal errors. */
export function toReason(error: unknown): FailureReason {
  return error instanceof CheckFailure ? error.reason : 'internal_error';
}

/** Error text for the log, whatever was thrown (opa-wasm throws plain strings). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** A configuration or policy-file problem: reported with a clear message, the process exits non-zero. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
