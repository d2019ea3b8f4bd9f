// Wire ↔ objects for the Check RPC: our own (de)serializers, so size limits and rendering are decided here.
import protobuf from 'protobufjs';
import type { FailureReason } from '../errors.js';
import { CONVERSION_OPTIONS, type EnvoyApi } from './protos.js';
import type { Attributes } from './types.js';
import { fromStruct } from './struct.js';
import { stripDefaults, type WideInteger } from './proto3.js';
import { createWireChecker } from './wire-check.js';
import { randomBytes } from 'node:crypto';
import { type CheckResponse, type TemplatedResponse } from './types.js';

/** What the deserializer hands the handler: attributes, or the fact that the message was too large. */
export type DecodedCheckRequest =
  | { kind: 'request'; attributes: Attributes | undefined; byteLength: number }
  | { kind: 'too_large'; byteLength: number }
  | { kind: 'undecodable'; byteLength: number; error: string }
  /** Refused before decoding for a reason of its own (a malformed wire message, more header lines than read). */
  | { kind: 'rejected'; reason: FailureReason; byteLength: number; error: string };

export interface CheckCodec {
  decode(buffer: Buffer): DecodedCheckRequest;
  encode(response: CheckResponse | TemplatedResponse): Buffer;
}

/**
 * Neither direction throws: a transport-level failure would reach Envoy as an RPC error, which fails open
 * under failure_mode_allow. Oversize and undecodable messages become values the handler denies; a response
 * that cannot be encoded goes out as the fallback deny (and `onEncodeFailure` hears why).
 */
export interface CheckCodecOptions {
  /** Larger CheckRequests decode as `too_large` (the handler denies them). */
  maxRequestBytes: number;
  /** The fail-closed deny sent, with the call's decision id, when a response cannot be encoded. */
  fallbackResponse(decisionId: string): CheckResponse;
  /** Hears why a response could not be encoded. */
  onEncodeFailure?: (error: unknown) => void;
}

export function createCheckCodec(api: EnvoyApi, options: CheckCodecOptions): CheckCodec {
  const { maxRequestBytes, fallbackResponse, onEncodeFailure } = options;
  const { CheckRequest, CheckResponse } = api;
  const checkWire = createWireChecker(CheckRequest);

  // A templated response: the template's bytes are encoded once (everything but the dynamic metadata, and
  // the metadata's entries without decision_id); each call adds only the decision_id entry. The fields of
  // a message may come in any order and map entries are repeated fields, so the concatenation is the
  // same message; with dynamic_metadata the last field, as protobufjs writes it, the very same bytes.
  const metadataField = CheckResponse.fields['dynamicMetadata']!;
  const Struct = metadataField.resolvedType as protobuf.Type;
  const metadataTag = (metadataField.id << 3) | 2; // length-delimited
  // Keyed weakly by the template object: templates live in the decision cache (check/decision-cache.ts, bounded
  // in entries and bytes) and in calls in flight, so an entry here goes when its template does and this map is
  // bounded by that cache. A result too long to be cached makes a template per call, collected with it.
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
      // Bytes a conformant decoder would refuse, or read otherwise than protobufjs does, are never decided on.
      const malformed = checkWire(buffer);
      if (malformed !== undefined) return { kind: 'rejected', reason: 'malformed_request', byteLength: buffer.length, error: `malformed CheckRequest: ${malformed}` };
      try {
        const message = CheckRequest.decode(buffer);
        const wide: WideInteger[] = [];
        stripDefaults(CheckRequest, message as unknown as Record<string, unknown>, wide);
        const object = CheckRequest.toObject(message, CONVERSION_OPTIONS) as { attributes?: Attributes };
        if (wide.length > 0) markWideIntegers(object, wide);
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
        return encodeMessage(CheckResponse, fallbackResponse(decisionIdOf(response)));
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
    const metadata = attributes[key] as { filterMetadata?: Record<string, unknown>; typedFilterMetadata?: Record<string, unknown> } | undefined;
    const filterMetadata = metadata?.filterMetadata;
    if (filterMetadata) for (const name of Object.keys(filterMetadata)) filterMetadata[name] = fromStruct(filterMetadata[name]);
    const typed = metadata?.typedFilterMetadata;
    if (typed) for (const name of Object.keys(typed)) typed[name] = anyAsJson(typed[name]);
  }
}

/**
 * google.protobuf.Any as opa-envoy-plugin renders it: `{"typeUrl", "value"}` (lowerCamelCase, value base64).
 * protobufjs's bundled Any keeps the proto field name `type_url` whatever keepCase says.
 */
function anyAsJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !Object.hasOwn(value, 'type_url')) return value;
  const { type_url: typeUrl, ...rest } = value as Record<string, unknown>;
  return { typeUrl, ...rest };
}

// 64-bit integers beyond 2^53 (request.http.size, times) would be rounded as JavaScript numbers, where
// opa-envoy-plugin keeps every digit. The decoded object holds such a value as a marker string, which
// JSON.stringify writes as `"\u0000<nonce>:<digits>"` and restoreWideIntegers turns back into the bare
// digits. The nonce is random per process, so no string a caller sends can pass for a marker.
const WIDE_NONCE = randomBytes(12).toString('hex');
const WIDE_PREFIX = `\u0000${WIDE_NONCE}:`;
const WIDE_MARKER = new RegExp(`"\\\\u0000${WIDE_NONCE}:(-?[0-9]+)"`, 'g');
const HAS_WIDE = Symbol('meshwarden.wideIntegers');

function markWideIntegers(object: Record<string, unknown>, wide: readonly WideInteger[]): void {
  for (const { path, digits } of wide) {
    let target = object as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    target[path.at(-1)!] = WIDE_PREFIX + digits;
  }
  const attributes = object['attributes'];
  if (typeof attributes === 'object' && attributes !== null) Object.defineProperty(attributes, HAS_WIDE, { value: true });
}

/** JSON text of attributes from decode with their wide integers written as plain digits (the text as it is otherwise). */
export function restoreWideIntegers(attributes: Attributes, json: string): string {
  return (attributes as { [HAS_WIDE]?: boolean })[HAS_WIDE] === true ? json.replace(WIDE_MARKER, '$1') : json;
}
