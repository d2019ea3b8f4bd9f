// Pure: Decision (or a failure reason) → CheckResponse, in the plain-object form protobufjs encodes.
import type { Decision, HeaderMutation } from './decision.js';
import { toStruct } from '../envoy/struct.js';
import type { CheckResponse, HeaderValueOption } from '../envoy/types.js';
import { FAILURE_ANSWERS, type FailureReason } from '../errors.js';

export const REASON_HEADER = 'x-ext-authz-reason';

const OK = 0;
const PERMISSION_DENIED = 7;
const DEFAULT_DENY_STATUS = 403;

// envoy.config.core.v3.HeaderValueOption.HeaderAppendAction
const APPEND_IF_EXISTS_OR_ADD = 0;
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

/**
 * Both `append` and `append_action` are set on every header, because Envoy versions disagree about
 * which one wins and about what an unset option means (envoy#42857, envoy#43310).
 */
function toHeaderOption(mutation: HeaderMutation): HeaderValueOption {
  return {
    header: { key: mutation.key, value: mutation.value },
    append: { value: mutation.append },
    appendAction: mutation.append ? APPEND_IF_EXISTS_OR_ADD : OVERWRITE_IF_EXISTS_OR_ADD,
  };
}

function toHeaderOptions(mutations: HeaderMutation[]): HeaderValueOption[] | undefined {
  return mutations.length === 0 ? undefined : mutations.map(toHeaderOption);
}

const NO_METADATA: Record<string, unknown> = Object.freeze({});

/** The CheckResponse for a policy's decision. `shadow` lets a deny pass (it is logged, not enforced). */
export function toCheckResponse(decision: Decision, decisionId: string, shadow = false): CheckResponse {
  return withDecisionId(responseTemplate(decision, shadow), decisionId);
}

/** The response with its decision_id set in the dynamic metadata (over a policy's own, in that key's place), as a new object. */
export function withDecisionId(template: CheckResponse, decisionId: string): CheckResponse {
  return { ...template, dynamicMetadata: { fields: { ...template.dynamicMetadata.fields, decision_id: { stringValue: decisionId } } } };
}

/** The CheckResponse for a decision, without the decision_id: the same for every Check the policy answers alike. */
export function responseTemplate(decision: Decision, shadow = false): CheckResponse {
  const dynamicMetadata = toStruct(decision.dynamicMetadata ?? NO_METADATA);
  if (decision.allowed) {
    if (!decision.fromObject) return { status: { code: OK }, dynamicMetadata };
    return {
      status: { code: OK },
      okResponse: {
        headers: toHeaderOptions(decision.headers),
        headersToRemove: nonEmpty(decision.requestHeadersToRemove),
        responseHeadersToAdd: toHeaderOptions(decision.responseHeadersToAdd),
        queryParametersToSet: nonEmpty(decision.queryParametersToSet),
        queryParametersToRemove: nonEmpty(decision.queryParametersToRemove),
      },
      dynamicMetadata,
    };
  }
  if (shadow) return { status: { code: OK }, okResponse: {}, dynamicMetadata };
  return {
    status: { code: PERMISSION_DENIED },
    deniedResponse: {
      // An explicit status on every deny, including boolean `false` (Envoy would default to 403).
      status: { code: decision.httpStatus ?? DEFAULT_DENY_STATUS },
      headers: toHeaderOptions(decision.headers),
      body: decision.body,
    },
    dynamicMetadata,
  };
}

/** The explicit deny for a failure: the reason code in a header and in the status message, never the error text. */
export function toFailureResponse(reason: FailureReason, decisionId: string): CheckResponse {
  const answer = FAILURE_ANSWERS[reason];
  return {
    status: { code: answer.grpcCode, message: reason },
    deniedResponse: {
      status: { code: answer.httpStatus },
      headers: [toHeaderOption({ key: REASON_HEADER, value: reason, append: false })],
      body: reason,
    },
    dynamicMetadata: toStruct({ decision_id: decisionId, reason }),
  };
}

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length === 0 ? undefined : list;
}
