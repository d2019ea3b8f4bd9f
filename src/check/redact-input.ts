// The policy input as the debug log may show it: values a name marks as secret (headers, header_map entries,
// query parameters in parsed_query and in the path's query string, parsed_body fields, context extensions,
// metadata, token claims) replaced, and the raw body, which has no names to go by, left out.

/**
 * Parts of names that mark a value as secret, compared case-insensitively anywhere in the name (`token`
 * covers `x-auth-token`, `access_token` and `id_token`). `--log-redact` adds to them.
 */
export const DEFAULT_REDACTED_NAMES: readonly string[] = Object.freeze([
  'authorization',
  'cookie',
  'token',
  'secret',
  'password',
  'passwd',
  'credential',
  'api-key',
  'api_key',
  'apikey',
  'session',
  'private',
  'signature',
  'assertion',
]);

export const REDACTED = '[redacted]';

/** Returns a redacted copy of a parsed input document; the document given is not changed. */
export type InputRedactor = (input: unknown) => unknown;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A redactor for the default names plus `extraNames`. */
export function createInputRedactor(extraNames: readonly string[] = []): InputRedactor {
  const parts = [...new Set([...DEFAULT_REDACTED_NAMES, ...extraNames].map((name) => name.toLowerCase()).filter((name) => name !== ''))];
  const secret = (name: string): boolean => {
    const lower = name.toLowerCase();
    return parts.some((part) => lower.includes(part));
  };
  return (input) => (isObject(input) ? redactDocument(input, secret) : input);
}

function redactDocument(input: JsonObject, secret: (name: string) => boolean): JsonObject {
  const output: JsonObject = { ...input };
  if (isObject(input['attributes'])) output['attributes'] = redactAttributes(input['attributes'], secret);
  if (isObject(input['parsed_query'])) output['parsed_query'] = redactNamed(input['parsed_query'], secret, false);
  if (input['parsed_body'] !== undefined && input['parsed_body'] !== null) output['parsed_body'] = redactNamed(input['parsed_body'], secret, true);
  // A verified token's claims are the caller's too (a claim named like a secret is redacted as a field is).
  if (isObject(input['jwt'])) output['jwt'] = redactNamed(input['jwt'], secret, true);
  return output;
}

function redactAttributes(attributes: JsonObject, secret: (name: string) => boolean): JsonObject {
  const output: JsonObject = { ...attributes };
  if (isObject(attributes['contextExtensions'])) output['contextExtensions'] = redactNamed(attributes['contextExtensions'], secret, false);
  for (const key of ['metadataContext', 'routeMetadataContext']) {
    if (isObject(attributes[key])) output[key] = redactNamed(attributes[key], secret, true);
  }
  const request = attributes['request'];
  if (isObject(request) && isObject(request['http'])) output['request'] = { ...request, http: redactHttp(request['http'], secret) };
  return output;
}

function redactHttp(http: JsonObject, secret: (name: string) => boolean): JsonObject {
  const output: JsonObject = { ...http };
  if (typeof http['path'] === 'string') output['path'] = redactQueryString(http['path'], secret);
  if (typeof http['query'] === 'string') output['query'] = redactQueryString('?' + http['query'], secret).slice(1);
  if (isObject(http['headers'])) {
    const headers = redactNamed(http['headers'], secret, false) as JsonObject;
    if (typeof headers[':path'] === 'string') headers[':path'] = redactQueryString(headers[':path'], secret);
    output['headers'] = headers;
  }
  const headerMap = http['headerMap'];
  if (isObject(headerMap) && Array.isArray(headerMap['headers'])) {
    output['headerMap'] = { ...headerMap, headers: headerMap['headers'].map((entry) => redactHeaderEntry(entry, secret)) };
  }
  // A raw body has no names to redact by; parsed_body shows its fields, redacted.
  for (const key of ['body', 'rawBody']) {
    if (typeof http[key] === 'string' && http[key] !== '') output[key] = `[redacted: ${(http[key] as string).length} characters]`;
  }
  return output;
}

/** A header_map entry, `{key, value}` or `{key, rawValue}`. */
function redactHeaderEntry(entry: Json, secret: (name: string) => boolean): Json {
  if (!isObject(entry) || typeof entry['key'] !== 'string') return entry;
  const output: JsonObject = { ...entry };
  const named = secret(entry['key']);
  for (const field of ['value', 'rawValue']) {
    if (typeof entry[field] !== 'string') continue;
    if (named) output[field] = REDACTED;
    else if (entry['key'] === ':path' && field === 'value') output[field] = redactQueryString(entry[field], secret);
    // rawValue is base64 bytes: the query in a raw :path cannot be redacted by name, so it is left out.
    else if (entry['key'] === ':path') output[field] = REDACTED;
  }
  return output;
}

/** Every value under a secret name replaced; nested objects and arrays walked when `deep`. */
function redactNamed(value: Json, secret: (name: string) => boolean, deep: boolean): Json {
  if (Array.isArray(value)) return deep ? value.map((item) => redactNamed(item, secret, deep)) : value;
  if (!isObject(value)) return value;
  // fromEntries defines each key as its own (an assignment to "__proto__" would drop the header instead).
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      // A list of values (parsed_query, form fields) keeps its shape: one mark per value.
      secret(key) ? (Array.isArray(item) ? item.map(() => REDACTED) : REDACTED) : deep ? redactNamed(item, secret, deep) : item,
    ]),
  ) as JsonObject;
}

/** `/p?token=abc&x=1` → `/p?token=[redacted]&x=1`; a name is compared percent-decoded, `+` as a space. */
function redactQueryString(path: string, secret: (name: string) => boolean): string {
  const at = path.indexOf('?');
  if (at === -1) return path;
  const hash = path.indexOf('#', at);
  const query = path.slice(at + 1, hash === -1 ? undefined : hash);
  const pairs = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    return secret(decodeName(name)) ? `${name}=${REDACTED}` : pair;
  });
  return path.slice(0, at + 1) + pairs.join('&') + (hash === -1 ? '' : path.slice(hash));
}

function decodeName(name: string): string {
  const spaced = name.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
