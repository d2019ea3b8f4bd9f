// The request body as opa-envoy-plugin parses it into parsed_body / truncated_body: JSON, form, multipart, gRPC.
import type { HttpRequest } from '../envoy/types.js';
import { CheckFailure } from '../errors.js';
import { parseGrpcBody, type GrpcBodyDecoder } from './grpc-body.js';
import { describeJsonSyntaxError } from './json-error.js';
import { parseMediaType, parseMultipart } from './multipart.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH, replaceLoneSurrogateEscapes } from './json-text.js';
import { parseQuery } from './url.js';
import { decodeUtf8AsGo } from './utf8.js';

export interface ParsedBody {
  /** JSON text of parsed_body */
  json: string;
  truncated: boolean;
}

const NO_BODY: ParsedBody = { json: 'null', truncated: false };
const TRUNCATED: ParsedBody = { json: 'null', truncated: true };

/** What a gRPC body needs: the descriptor's decoder and the request's parsed_path ([service, method]). */
export interface GrpcBodyContext {
  decoder: GrpcBodyDecoder;
  parsedPath: readonly string[];
}

/** parsed_body / truncated_body, in opa-envoy-plugin's order of checks. */
export function parseBody(http: HttpRequest | undefined, grpc?: GrpcBodyContext): ParsedBody {
  const headers = http?.headers;
  if (!headers) return NO_BODY;
  if (headers['x-envoy-auth-partial-body'] === 'true') return TRUNCATED;
  const contentType = headers['content-type'];
  if (contentType === undefined) return NO_BODY;

  const kind = contentType.includes('application/json')
    ? 'json'
    : contentType.includes('application/grpc')
      ? 'grpc'
      : contentType.includes('application/x-www-form-urlencoded')
        ? 'form'
        : contentType.includes('multipart/form-data')
          ? 'multipart'
          : undefined;
  if (kind === undefined) return NO_BODY;
  // gRPC has its own framing: only raw_body (pack_as_bytes) is read and content-length is not consulted.
  if (kind === 'grpc') return grpcBodyOf(http, grpc);

  const { text, byteLength } = bodyOf(http);
  if (text === '') return NO_BODY;
  if (isShorterThanDeclared(byteLength, headers['content-length'])) return TRUNCATED;

  switch (kind) {
    case 'json':
      // Go's decoder refuses deeper nesting; JSON.parse below is iterative, but the policy would not be.
      if (exceedsJsonDepth(text)) throw new CheckFailure('request_parse_error', `invalid JSON body: nested deeper than ${MAX_JSON_DEPTH} levels`);
      try {
        JSON.parse(text);
      } catch (error) {
        throw new CheckFailure('request_parse_error', `invalid JSON body: ${describeJsonSyntaxError(error)}`);
      }
      // The text itself goes to the policy, so integers beyond 2^53 keep every digit.
      return { json: replaceLoneSurrogateEscapes(text), truncated: false };
    case 'form':
      return { json: JSON.stringify(parseQuery(text)), truncated: false };
    case 'multipart': {
      const boundary = multipartBoundary(contentType);
      if (boundary === undefined) return NO_BODY;
      return { json: parseMultipart(text, boundary), truncated: false };
    }
  }
}

/** opa-envoy-plugin's getGRPCBody: null without a descriptor or raw_body; the path must be /Service/Method. */
function grpcBodyOf(http: HttpRequest | undefined, grpc: GrpcBodyContext | undefined): ParsedBody {
  if (grpc === undefined || !http?.rawBody) return NO_BODY;
  if (grpc.parsedPath.length !== 2) throw new CheckFailure('request_parse_error', 'invalid parsed path');
  return parseGrpcBody(grpc.decoder, grpc.parsedPath[0]!, grpc.parsedPath[1]!, Buffer.from(http.rawBody, 'base64'));
}

/**
 * `body`, or the base64 `raw_body` (Envoy's pack_as_bytes) when `body` is empty. The length is that of the
 * bytes Envoy sent: decoding replaces bytes that are not UTF-8, which would change it.
 */
function bodyOf(http: HttpRequest | undefined): { text: string; byteLength: number } {
  if (http?.body) return { text: http.body, byteLength: Buffer.byteLength(http.body, 'utf8') };
  if (http?.rawBody) {
    const bytes = Buffer.from(http.rawBody, 'base64');
    return { text: decodeUtf8AsGo(bytes), byteLength: bytes.length };
  }
  return { text: '', byteLength: 0 };
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** content-length larger than the body means the body was cut; a non-integer content-length is an error. */
function isShorterThanDeclared(byteLength: number, contentLength: string | undefined): boolean {
  if (contentLength === undefined) return false;
  if (!/^[+-]?[0-9]+$/.test(contentLength)) {
    throw new CheckFailure('request_parse_error', 'content-length is not an integer');
  }
  const declared = BigInt(contentLength);
  if (declared > INT64_MAX || declared < INT64_MIN) {
    throw new CheckFailure('request_parse_error', 'content-length out of range');
  }
  return declared !== -1n && declared > BigInt(byteLength);
}

/**
 * The boundary parameter of a multipart content type, or undefined when it has none. A content type Go's
 * mime.ParseMediaType rejects, or an empty boundary, is an error there, so a parse error here.
 */
function multipartBoundary(contentType: string): string | undefined {
  const media = parseMediaType(contentType);
  if (media === undefined) throw new CheckFailure('request_parse_error', 'invalid multipart content type');
  const boundary = media.params['boundary'];
  if (boundary === '') throw new CheckFailure('request_parse_error', 'empty multipart boundary');
  return boundary;
}
