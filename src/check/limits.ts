// The size limits a request must meet before anything else looks at it: the path and the headers. Whatever
// passes them costs time linear in its size in every later stage; beyond them a request is denied at once
// (414, 431) instead of being parsed, matched and held (a 1 MiB path of percent-escapes once took 2.8 s).
import type { Attributes } from '../envoy/types.js';
import { CheckFailure } from '../errors.js';

export interface RequestLimits {
  /** The request path as sent (`:path`, with its query), in UTF-8 bytes. */
  readonly maxPathBytes: number;
  /** All header names and values together, in UTF-8 bytes. */
  readonly maxHeaderBytes: number;
  /** Header entries (HTTP mode counts header lines, before repeated ones are joined). */
  readonly maxHeaderCount: number;
}

// Envoy's own defaults are 60 KiB of headers (max_request_headers_kb) and 100 headers (max_headers_count);
// these leave room for deployments that raise them, and stay where every stage is still linear (the rules
// library's path forms measure flat in time per byte up to well past 64 KiB).
export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxPathBytes: 64 * 1024,
  maxHeaderBytes: 1024 * 1024,
  maxHeaderCount: 10_000,
});

/** Throws the deny for the first limit the request breaks (the path first: it is also a header). */
export function checkRequestLimits(attributes: Attributes, limits: RequestLimits): void {
  const http = attributes.request?.http;
  if (http === undefined) return;
  const path = http.path;
  // UTF-8 takes at least one byte a UTF-16 unit, at most three: count bytes only when it can matter.
  if (path !== undefined && path.length * 3 > limits.maxPathBytes && Buffer.byteLength(path, 'utf8') > limits.maxPathBytes) {
    throw new CheckFailure('path_too_long', `the path is over ${limits.maxPathBytes} bytes`);
  }
  // Envoy sends the headers either as `headers` or, with encode_raw_headers, as `header_map`: both count.
  const headers = http.headers ?? {};
  const headerMap = (http.headerMap as { headers?: { key?: string; value?: string; rawValue?: string }[] } | undefined)?.headers ?? [];
  let count = headerMap.length;
  let units = 0;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    count++;
    units += name.length + headers[name]!.length;
  }
  for (const entry of headerMap) units += (entry.key?.length ?? 0) + (entry.value?.length ?? 0) + (entry.rawValue?.length ?? 0);
  if (count > limits.maxHeaderCount) throw new CheckFailure('headers_too_large', `${count} headers, over the limit of ${limits.maxHeaderCount}`);
  if (units * 3 <= limits.maxHeaderBytes) return;
  let bytes = 0;
  for (const name in headers) if (Object.hasOwn(headers, name)) bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(headers[name]!, 'utf8');
  for (const entry of headerMap) bytes += Buffer.byteLength(entry.key ?? '', 'utf8') + Buffer.byteLength(entry.value ?? '', 'utf8') + Buffer.byteLength(entry.rawValue ?? '', 'utf8');
  if (bytes > limits.maxHeaderBytes) throw new CheckFailure('headers_too_large', `${bytes} bytes of headers, over the limit of ${limits.maxHeaderBytes}`);
}
