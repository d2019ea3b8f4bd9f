// Wire ↔ objects for the Check RPC: our own (de)serializers, so size limits and rendering are decided here.
import type protobuf from 'protobufjs';
import { CONVERSION_OPTIONS, type EnvoyApi } from './protos.js';
import type { Attributes } from './input.js';
import { fromStruct, type CheckResponse } from './response.js';

/** What the deserializer hands the handler: attributes, or the fact that the message was too large. */
export type DecodedCheckRequest =
  | { kind: 'request'; attributes: Attributes | undefined; byteLength: number }
  | { kind: 'too_large'; byteLength: number }
  | { kind: 'undecodable'; byteLength: number; error: string };

export interface CheckCodec {
  decode(buffer: Buffer): DecodedCheckRequest;
  encode(response: CheckResponse): Buffer;
}

/**
 * Decoding never throws: a transport-level failure would reach Envoy as an RPC error, which fails open
 * under failure_mode_allow. Oversize and undecodable messages become values the handler denies.
 */
export function createCheckCodec(api: EnvoyApi, maxRequestBytes: number): CheckCodec {
  const { CheckRequest, CheckResponse } = api;
  return {
    decode(buffer: Buffer): DecodedCheckRequest {
      if (buffer.length > maxRequestBytes) return { kind: 'too_large', byteLength: buffer.length };
      try {
        const message = CheckRequest.decode(buffer);
        const object = CheckRequest.toObject(message, CONVERSION_OPTIONS) as { attributes?: Attributes };
        const attributes = object.attributes;
        if (attributes) normaliseMetadata(attributes);
        return { kind: 'request', attributes, byteLength: buffer.length };
      } catch (error) {
        return { kind: 'undecodable', byteLength: buffer.length, error: (error as Error).message };
      }
    },
    encode(response: CheckResponse): Buffer {
      const writer = CheckResponse.encode(response as unknown as protobuf.Message);
      return Buffer.from(writer.finish());
    },
  };
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
