// Headers Envoy sends in `header_map` (its encode_raw_headers option; proxyless gRPC callers, gRFC A92) seen as
// `headers` are: what the body parser, the identity stage and a policy's own input writer read. The full
// input document keeps `attributes` as opa-envoy-plugin renders them (it ignores header_map).
import type { Attributes, HttpRequest } from '../envoy/types.js';

interface HeaderMapEntry {
  key?: string;
  value?: string;
  /** base64, as the codec renders bytes */
  rawValue?: string;
}

/**
 * The attributes with `request.http.headers` holding header_map's entries too: keys lowercased, repeated keys
 * joined with `,` as Envoy joins them in `headers`, after any value `headers` has for the key (so a DENY on a
 * header sees it wherever it was sent). The same object when there is no header_map (the usual case).
 */
export function withHeaderMap(attributes: Attributes): Attributes {
  const http = attributes.request?.http;
  const entries = (http?.headerMap as { headers?: unknown } | undefined)?.headers;
  if (http === undefined || !Array.isArray(entries) || entries.length === 0) return attributes;
  // Prototype-less, so a header named __proto__ is a header like any other.
  const headers = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(http.headers ?? {})) headers[key] = http.headers![key]!;
  for (const entry of entries as HeaderMapEntry[]) {
    if (typeof entry?.key !== 'string' || entry.key === '') continue;
    const key = entry.key.toLowerCase();
    // Header bytes are octets: each byte one character, as in the JWT lookup (identity/jwt.ts).
    const value = entry.value !== undefined && entry.value !== '' ? entry.value : entry.rawValue ? Buffer.from(entry.rawValue, 'base64').toString('latin1') : '';
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]},${value}` : value;
  }
  const viewed: HttpRequest = { ...http, headers };
  return { ...attributes, request: { ...attributes.request, http: viewed } };
}
