// Pure: decoded CheckRequest attributes → the policy input document, as JSON text for the wasm module.
// Shape and parsing follow opa-envoy-plugin's v3 input (envoyauth/request.go) so its policies run unchanged.
import { restoreWideIntegers } from '../envoy/codec.js';
import type { Attributes } from '../envoy/types.js';
import { parseBody } from '../request/body.js';
import type { GrpcBodyDecoder } from '../request/grpc-body.js';
import { queryJson, splitPath, unescapeOrFail } from '../request/url.js';

/**
 * A policy that reads only part of the document writes that part itself (the rules library does: its wasm
 * parses every byte of the input on every Check, so a smaller document is a cheaper one). What is checked
 * and denied before the policy runs (path, query and body parsing) is the same as with the full document.
 */
export interface InputWriter {
  /** The query parameters parsed_query keeps (the whole query is parsed all the same, for its errors). */
  readonly queryNames: ReadonlySet<string>;
  /** The document, given the request, its parsed_query as JSON text, and meshwarden's additions. */
  write(attributes: Attributes, parsedQueryJson: string, extensions: InputExtensions | undefined): string;
}

export interface InputOptions {
  /** opa-envoy-plugin's skip-request-body-parse: leave parsed_body and truncated_body out. */
  skipBodyParse: boolean;
  /** opa-envoy-plugin's proto-descriptor: parses application/grpc bodies (src/request/grpc-body.ts); off when undefined. */
  grpcDescriptor?: GrpcBodyDecoder | undefined;
  /** The policy's own writer of a smaller document; the full document when not set. */
  writer?: InputWriter | undefined;
  /** The attributes as the full document renders them, when `attributes` is a view of them (request/header-map.ts). */
  rendered?: Attributes | undefined;
}

export interface BuiltInput {
  /** The whole input document as JSON text (big integers in JSON bodies keep their digits). */
  json: string;
  /** The path without its query, for the decision log. */
  pathOnly: string;
}

const VERSION_JSON = '{"ext_authz":"v3","encoding":"protojson"}';

/** meshwarden's additions to the opa-envoy-plugin document: the peers' identities (identity/identity.ts), input.jwt (identity/jwt.ts). */
export interface InputExtensions {
  source: unknown;
  destination: unknown;
  /** The bearer token's verdict; the key is left out when no token was sent (or none is configured). */
  jwt?: unknown;
}

/** Builds the input document; throws CheckFailure('request_parse_error') where opa-envoy-plugin answers 400. */
export function buildInput(attributes: Attributes, options: InputOptions, extensions?: InputExtensions): BuiltInput {
  const http = attributes.request?.http;
  const rawPath = http?.path ?? '';
  const queryAt = rawPath.indexOf('?');
  const pathOnly = queryAt === -1 ? rawPath : rawPath.slice(0, queryAt);
  const decodedPath = unescapeOrFail(pathOnly, false, 'path');
  const writer = options.writer;
  const parsedQueryJson = queryAt === -1 ? '{}' : queryJson(rawPath.slice(queryAt + 1), writer?.queryNames);
  if (writer !== undefined) {
    // The same parse errors as the full document, so a request is denied before the policy alike.
    if (!options.skipBodyParse) parseBody(http, options.grpcDescriptor && { decoder: options.grpcDescriptor, parsedPath: splitPath(decodedPath) });
    return { json: writer.write(attributes, parsedQueryJson, extensions), pathOnly };
  }
  const parsedPath = splitPath(decodedPath);
  const rendered = options.rendered ?? attributes;

  let json =
    '{"attributes":' +
    restoreWideIntegers(rendered, JSON.stringify(rendered)) +
    ',"version":' +
    VERSION_JSON +
    ',"parsed_path":' +
    JSON.stringify(parsedPath) +
    ',"parsed_query":' +
    parsedQueryJson;
  if (!options.skipBodyParse) {
    const body = parseBody(http, options.grpcDescriptor && { decoder: options.grpcDescriptor, parsedPath });
    json += ',"parsed_body":' + body.json + ',"truncated_body":' + (body.truncated ? 'true' : 'false');
  }
  const principal = attributes.source?.principal;
  if (principal) json += ',"source_principal":' + JSON.stringify(principal);
  if (extensions) {
    json += ',"source":' + JSON.stringify(extensions.source) + ',"destination":' + JSON.stringify(extensions.destination);
    if (extensions.jwt !== undefined) json += ',"jwt":' + JSON.stringify(extensions.jwt);
  }
  return { json: json + '}', pathOnly };
}
