// Envoy's ext_authz v3 messages as plain objects: CheckRequest.attributes as the codec decodes them, and
// CheckResponse in the form protobufjs encodes. The stages and listeners share these; they hold no logic.

/** CheckRequest.attributes as decoded (see CONVERSION_OPTIONS in protos.ts). */
export interface Attributes {
  source?: Peer;
  destination?: Peer;
  request?: { time?: { seconds?: number; nanos?: number }; http?: HttpRequest };
  contextExtensions?: Record<string, string>;
  metadataContext?: unknown;
  routeMetadataContext?: unknown;
  tlsSession?: { sni?: string };
  [key: string]: unknown;
}

export interface Peer {
  address?: { socketAddress?: { address?: string; portValue?: number; [key: string]: unknown }; [key: string]: unknown };
  service?: string;
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}

export interface HttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  path?: string;
  host?: string;
  scheme?: string;
  query?: string;
  fragment?: string;
  size?: number;
  protocol?: string;
  body?: string;
  /** base64, as rendered by the decoder */
  rawBody?: string;
  headerMap?: unknown;
}

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

/** A CheckResponse as the template of its decision and this call's decision_id (the codec encodes the template once). */
export interface TemplatedResponse {
  readonly template: CheckResponse;
  readonly decisionId: string;
}
