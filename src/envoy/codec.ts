// Wire ↔ objects for the Check RPC: our own (de)serializers, so size limits and rendering are decided here.
import protobuf from 'protobufjs';
import { CONVERSION_OPTIONS, type EnvoyApi } from './protos.js';
import type { Attributes } from '../check/input.js';
import { fromStruct, toFailureResponse, type CheckResponse, type TemplatedResponse } from '../check/response.js';

/** What the deserializer hands the handler: attributes, or the fact that the message was too large. */
export type DecodedCheckRequest =
  | { kind: 'request'; attributes: Attributes | undefined; byteLength: number }
  | { kind: 'too_large'; byteLength: number }
  | { kind: 'undecodable'; byteLength: number; error: string };

export interface CheckCodec {
  decode(buffer: Buffer): DecodedCheckRequest;
  encode(response: CheckResponse | TemplatedResponse): Buffer;
}

/**
 * Neither direction throws: a transport-level failure would reach Envoy as an RPC error, which fails open
 * under failure_mode_allow. Oversize and undecodable messages become values the handler denies; a response
 * that cannot be encoded goes out as an internal_error deny (and `onEncodeFailure` hears why).
 */
export function createCheckCodec(api: EnvoyApi, maxRequestBytes: number, onEncodeFailure?: (error: unknown) => void): CheckCodec {
  const { CheckRequest, CheckResponse } = api;

  // A templated response: the template's bytes are encoded once (everything but the dynamic metadata, and
  // the metadata's entries without decision_id); each call adds only the decision_id entry. The fields of
  // a message may come in any order and map entries are repeated fields, so the concatenation is the
  // same message; with dynamic_metadata the last field, as protobufjs writes it, the very same bytes.
  const metadataField = CheckResponse.fields['dynamicMetadata']!;
  const Struct = metadataField.resolvedType as protobuf.Type;
  const metadataTag = (metadataField.id << 3) | 2; // length-delimited
  const templates = new WeakMap<CheckResponse, { head: Buffer; entries: Buffer }>();
  function encodeTemplated({ template, decisionId }: TemplatedResponse): Buffer {
    let parts = templates.get(template);
    if (parts === undefined) {
      const { dynamicMetadata, ...rest } = template;
      const fields = { ...dynamicMetadata.fields };
      delete fields['decision_id'];
      parts = { head: encodeMessage(CheckResponse, rest as CheckResponse), entries: encodeMessage(Struct, { fields }) };
      templates.set(template, parts);
    }
    const idEntry = Struct.encode({ fields: { decision_id: { stringValue: decisionId } } }).finish();
    const metadataLength = parts.entries.length + idEntry.length;
    const prefix = protobuf.Writer.create().uint32(metadataTag).uint32(metadataLength).finish();
    return Buffer.concat([parts.head, prefix, parts.entries, idEntry], parts.head.length + prefix.length + metadataLength);
  }

  return {
    decode(buffer: Buffer): DecodedCheckRequest {
      if (buffer.length > maxRequestBytes) return { kind: 'too_large', byteLength: buffer.length };
      try {
        const message = CheckRequest.decode(buffer);
        stripDefaults(CheckRequest, message as unknown as Record<string, unknown>);
        const object = CheckRequest.toObject(message, CONVERSION_OPTIONS) as { attributes?: Attributes };
        const attributes = object.attributes;
        if (attributes) normaliseMetadata(attributes);
        return { kind: 'request', attributes, byteLength: buffer.length };
      } catch (error) {
        return { kind: 'undecodable', byteLength: buffer.length, error: (error as Error).message };
      }
    },
    encode(response: CheckResponse | TemplatedResponse): Buffer {
      try {
        return 'template' in response ? encodeTemplated(response) : encodeMessage(CheckResponse, response);
      } catch (error) {
        onEncodeFailure?.(error);
        return encodeMessage(CheckResponse, toFailureResponse('internal_error', decisionIdOf(response)));
      }
    },
  };
}

/** The decision id a response carries, for the deny that replaces it ("" when it has none). */
function decisionIdOf(response: CheckResponse | TemplatedResponse): string {
  if ('template' in response) return typeof response.decisionId === 'string' ? response.decisionId : '';
  const value = response.dynamicMetadata?.fields?.['decision_id'] as { stringValue?: unknown } | undefined;
  return typeof value?.stringValue === 'string' ? value.stringValue : '';
}

function encodeMessage(type: protobuf.Type, message: object): Buffer {
  const bytes = type.encode(message as protobuf.Message).finish();
  // protobufjs hands out a Buffer on Node already; copy only when it did not.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
}

/** google.protobuf.Struct values in filter metadata become plain JSON, as opa-envoy-plugin renders them. */
function normaliseMetadata(attributes: Attributes): void {
  for (const key of ['metadataContext', 'routeMetadataContext'] as const) {
    const metadata = attributes[key] as { filterMetadata?: Record<string, unknown> } | undefined;
    const filterMetadata = metadata?.filterMetadata;
    if (!filterMetadata) continue;
    for (const name of Object.keys(filterMetadata)) filterMetadata[name] = fromStruct(filterMetadata[name]);
  }
}

interface FieldPlan {
  /** proto3 scalars without presence: a zero value on the wire means "not set". */
  scalars: string[];
  /** fields holding messages (single, repeated or map values), walked in turn */
  messages: { name: string; type: protobuf.Type; kind: 'single' | 'list' | 'map' }[];
}

const plans = new Map<protobuf.Type, FieldPlan>();

function planFor(type: protobuf.Type): FieldPlan {
  let plan = plans.get(type);
  if (plan) return plan;
  plan = { scalars: [], messages: [] };
  plans.set(type, plan);
  for (const field of type.fieldsArray) {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Type) {
      plan.messages.push({ name: field.name, type: resolved, kind: field.map ? 'map' : field.repeated ? 'list' : 'single' });
    } else if (!field.repeated && !field.map && !field.partOf) {
      plan.scalars.push(field.name);
    }
  }
  return plan;
}

function isZero(value: unknown): boolean {
  if (value === 0 || value === '' || value === false) return true;
  if (value instanceof Uint8Array) return value.length === 0;
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    return (value as { low: number; high: number }).low === 0 && (value as { low: number; high: number }).high === 0;
  }
  return false;
}

/**
 * Removes proto3 zero values a client wrote explicitly (protobufjs-based clients do; Envoy does not), so
 * that only populated fields reach the input document, as opa-envoy-plugin renders it.
 */
function stripDefaults(type: protobuf.Type, message: Record<string, unknown>): void {
  const plan = planFor(type);
  for (const name of plan.scalars) {
    if (Object.hasOwn(message, name) && isZero(message[name])) delete message[name];
  }
  for (const { name, type: child, kind } of plan.messages) {
    const value = message[name];
    if (value === undefined || value === null) continue;
    if (kind === 'single') stripDefaults(child, value as Record<string, unknown>);
    else for (const item of kind === 'list' ? (value as unknown[]) : Object.values(value as object)) stripDefaults(child, item as Record<string, unknown>);
  }
}
