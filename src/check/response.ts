// Pure: Decision (or a failure reason) → CheckResponse, in the plain-object form protobufjs encodes.
import type { Decision, HeaderMutation } from './decision.js';
import { FAILURE_ANSWERS, type FailureReason } from '../errors.js';

export const REASON_HEADER = 'x-ext-authz-reason';

const OK = 0;
const PERMISSION_DENIED = 7;
const DEFAULT_DENY_STATUS = 403;

// envoy.config.core.v3.HeaderValueOption.HeaderAppendAction
const APPEND_IF_EXISTS_OR_ADD = 0;
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

export interface HeaderValueOption {
  header: { key: string; value: string };
  append: { value: boolean };
  appendAction: number;
}

/** CheckResponse as a plain object (field names as protobufjs expects them). */
export interface CheckResponse {
  status: { code: number; message?: string };
  deniedResponse?: { status: { code: number }; headers?: HeaderValueOption[]; body?: string };
  okResponse?: {
    headers?: HeaderValueOption[];
    headersToRemove?: string[];
    responseHeadersToAdd?: HeaderValueOption[];
    queryParametersToSet?: { key: string; value: string }[];
    queryParametersToRemove?: string[];
  };
  dynamicMetadata: Struct;
}

export interface Struct {
  fields: Record<string, StructValue>;
}

export type StructValue =
  | { nullValue: 0 }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: Struct }
  | { listValue: { values: StructValue[] } };

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

/** A CheckResponse as the template of its decision and this call's decision_id (codec.ts encodes the template once). */
export interface TemplatedResponse {
  readonly template: CheckResponse;
  readonly decisionId: string;
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

/** Plain JSON → google.protobuf.Struct. */
export function toStruct(object: Record<string, unknown>): Struct {
  // A plain object (a prototype-less one is a slow dictionary to fill and for protobufjs to encode); a
  // "__proto__" key from the policy is defined as a field, not handed to the prototype setter.
  const fields: Record<string, StructValue> = {};
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined) continue;
    if (key === '__proto__') Object.defineProperty(fields, key, { value: toStructValue(value), enumerable: true, writable: true, configurable: true });
    else fields[key] = toStructValue(value);
  }
  return { fields };
}

export function toStructValue(value: unknown): StructValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'number':
      return { numberValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'object':
      if (value === null) return { nullValue: 0 };
      if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
      return { structValue: toStruct(value as Record<string, unknown>) };
    default:
      return { nullValue: 0 };
  }
}

/** google.protobuf.Struct (as decoded) → plain JSON. */
export function fromStruct(struct: unknown): Record<string, unknown> {
  const result = Object.create(null) as Record<string, unknown>;
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  for (const [key, value] of Object.entries(fields)) result[key] = fromStructValue(value);
  return result;
}

function fromStructValue(value: unknown): unknown {
  const v = (value ?? {}) as Record<string, unknown>;
  if ('stringValue' in v) return v['stringValue'];
  if ('numberValue' in v) return v['numberValue'];
  if ('boolValue' in v) return v['boolValue'];
  if ('structValue' in v) return fromStruct(v['structValue']);
  if ('listValue' in v) {
    const values = (v['listValue'] as { values?: unknown[] } | undefined)?.values ?? [];
    return values.map(fromStructValue);
  }
  return null;
}
