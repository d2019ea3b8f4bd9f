// providers.aws.sign_req: AWS Signature Version 4 of an http.send-shaped request object (OPA's
// v1/topdown/providers.go and internal/providers/aws/signing_v4.go), deterministic given its time argument.
import { createHash, createHmac } from 'node:crypto';
import { fail, isObject, objectArg, type BuiltinTable, type JsonObject } from './builtin.js';
import { goJsonMarshal } from './go-json.js';
import { escapedPath, parseUrl } from './go-url.js';

const REQUIRED_CONFIG_KEYS = ['aws_service', 'aws_access_key', 'aws_secret_access_key', 'aws_region'] as const;

// The keys http.send accepts: sign_req refuses any other, as OPA does (validateHTTPRequestOperand).
const REQUEST_KEYS = new Set([
  'method', 'url', 'body', 'enable_redirect', 'force_json_decode', 'force_yaml_decode', 'headers', 'raw_body',
  'tls_use_system_certs', 'tls_ca_cert', 'tls_ca_cert_file', 'tls_ca_cert_env_variable', 'tls_client_cert',
  'tls_client_cert_file', 'tls_client_cert_env_variable', 'tls_client_key', 'tls_client_key_file',
  'tls_client_key_env_variable', 'tls_insecure_skip_verify', 'tls_server_name', 'timeout', 'cache', 'force_cache',
  'force_cache_duration_seconds', 'raise_error', 'caching_mode', 'max_retry_attempts', 'cache_ignored_headers',
]);

// Headers a proxy may change on the way, so never signed (OPA's awsSigv4IgnoredHeaders).
const IGNORED_HEADERS = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

const INT64_LIMIT = 2 ** 63;

/** OPA's stringFromTerm: a string's value, anything else "". */
const stringOf = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Go's sort.Strings order: by UTF-8 bytes. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

const hmacSha256 = (key: Buffer | string, message: string): Buffer => createHmac('sha256', key).update(message, 'utf8').digest();
const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The UTC date and time of Unix nanoseconds as SigV4 writes them: 20060102 and 20060102T150405Z. */
function signingTimes(ns: number): { date: string; dateTime: string } {
  const seconds = BigInt(ns) / 1_000_000_000n - (BigInt(ns) % 1_000_000_000n < 0n ? 1n : 0n);
  const iso = new Date(Number(seconds) * 1000).toISOString(); // 2006-01-02T15:04:05.000Z
  const date = iso.slice(0, 10).replaceAll('-', '');
  return { date, dateTime: `${date}T${iso.slice(11, 19).replaceAll(':', '')}Z` };
}

/** getReqBodyBytes: raw_body as it is (when present, whatever its type), else body as Go's json.Marshal writes it. */
function bodyOf(request: JsonObject): string {
  if (Object.hasOwn(request, 'raw_body')) return stringOf(request['raw_body']);
  if (Object.hasOwn(request, 'body')) return goJsonMarshal(request['body']);
  return '';
}

function checkConfig(config: JsonObject): void {
  const missing = REQUIRED_CONFIG_KEYS.filter((key) => !Object.hasOwn(config, key));
  if (missing.length > 0) fail(`missing required AWS config parameters(s): ${missing.join(', ')}`);
  const invalid = REQUIRED_CONFIG_KEYS.filter((key) => typeof config[key] !== 'string');
  if (invalid.length > 0) fail(`invalid values for required AWS config parameters(s): ${invalid.join(', ')}`);
}

function checkRequest(request: JsonObject): void {
  const unknown = Object.keys(request).filter((key) => !REQUEST_KEYS.has(key));
  if (unknown.length > 0) fail(`invalid request parameters(s): ${unknown.join(', ')}`);
  const missing = ['method', 'url'].filter((key) => !Object.hasOwn(request, key));
  if (missing.length > 0) fail(`missing required request parameters(s): ${missing.join(', ')}`);
}

function signRequest(requestArg: unknown, configArg: unknown, timeArg: unknown): JsonObject {
  const request = objectArg(requestArg, 1);
  const config = objectArg(configArg, 2);
  checkConfig(config);
  if (typeof timeArg !== 'number') fail('operand 3 must be number');
  if (!Number.isInteger(timeArg) || timeArg >= INT64_LIMIT || timeArg < -INT64_LIMIT) fail('could not convert time_ns value into a unix timestamp');
  checkRequest(request);

  const headersValue = request['headers'];
  if (headersValue !== undefined && !isObject(headersValue)) fail('operand 1 must be object');
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(headersValue ?? {})) headers[key] = stringOf(value);
  if (typeof request['url'] !== 'string' || typeof request['method'] !== 'string') fail('invalid values for required request parameters(s): url, method');
  const url = parseUrl(request['url']);
  const method = request['method'];
  const body = bodyOf(request);

  const disable = config['disable_payload_signing'];
  if (disable !== undefined && typeof disable !== 'boolean') fail("invalid value for 'disable_payload_signing' in AWS config");
  const service = stringOf(config['aws_service']);
  const accessKey = stringOf(config['aws_access_key']);
  const secretKey = stringOf(config['aws_secret_access_key']);
  const region = stringOf(config['aws_region']);
  const sessionToken = stringOf(config['aws_session_token']);

  const contentSha256 = disable === true ? 'UNSIGNED-PAYLOAD' : sha256Hex(Buffer.from(body, 'utf8'));
  const { date, dateTime } = signingTimes(timeArg);
  const awsHeaders: Record<string, string> = { host: url.host, 'x-amz-date': dateTime };
  // S3 and Glacier want the payload's hash as a header too; other services do not.
  if (service === 's3' || service === 'glacier') awsHeaders['x-amz-content-sha256'] = contentSha256;
  // Temporary credentials (an STS session) carry their token in a signed header.
  if (sessionToken !== '') awsHeaders['x-amz-security-token'] = sessionToken;

  // The request's own headers, lower-cased, are signed too, over the AWS ones of the same name.
  const toSign = new Map(Object.entries(awsHeaders));
  for (const [key, value] of Object.entries(headers)) {
    const lower = key.toLowerCase();
    if (!IGNORED_HEADERS.has(lower)) toSign.set(lower, value);
  }
  const signedNames = [...toSign.keys()].sort(byBytes);
  const canonicalRequest =
    `${method}\n${escapedPath(url)}\n${url.rawQuery}\n` +
    signedNames.map((name) => `${name}:${toSign.get(name)}\n`).join('') +
    `\n${signedNames.join(';')}\n${contentSha256}`;
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${dateTime}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  let signingKey = hmacSha256(`AWS4${secretKey}`, date);
  for (const part of [region, service, 'aws4_request']) signingKey = hmacSha256(signingKey, part);
  const signature = hmacSha256(signingKey, stringToSign).toString('hex');

  const signedHeaders: Record<string, string> = {
    ...headers,
    Authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope},SignedHeaders=${signedNames.join(';')},Signature=${signature}`,
    ...awsHeaders,
  };
  return { ...request, headers: signedHeaders };
}

export const awsBuiltins: BuiltinTable = {
  'providers.aws.sign_req': (_evaluation, request, config, timeNs) => signRequest(request, config, timeNs),
};
