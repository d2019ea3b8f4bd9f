// Pure: the source principal an Envoy filter the operator configured wrote into the CheckRequest's metadata
// (attributes.metadata_context.filter_metadata), for proxies that verified the peer but leave source.principal
// empty (an Istio waypoint: the mTLS is on the HBONE tunnel, the HTTP filters run on an internal connection).
import { isSpiffeIdError, MAX_SPIFFE_ID_BYTES, parseSpiffeId } from './spiffe.js';

/**
 * Where the principal is: a filter_metadata namespace, then the keys down to the string, as Envoy's own
 * `%DYNAMIC_METADATA(NAMESPACE:KEY:…)%` names it.
 */
export interface MetadataPath {
  readonly namespace: string;
  readonly keys: readonly string[];
}

export type MetadataPrincipal = { found: 'absent' } | { found: 'principal'; principal: string } | { found: 'malformed'; problem: string };

/** Longest setting accepted: a namespace and a few keys, never a document. */
const MAX_PATH_LENGTH = 1024;

/** `NAMESPACE:KEY[:KEY…]` → the path, or why not (for the config's message). */
export function parseMetadataPath(text: string): MetadataPath | { problem: string } {
  if (text.length > MAX_PATH_LENGTH) return { problem: `longer than ${MAX_PATH_LENGTH} characters` };
  const parts = text.split(':');
  if (parts.length < 2) return { problem: 'expected NAMESPACE:KEY (a filter_metadata namespace, then the key, e.g. meshwarden.peer:source_principal)' };
  if (parts.some((part) => part.trim() === '' || part.trim() !== part)) return { problem: 'the namespace and every key must be non-empty, without surrounding spaces' };
  return Object.freeze({ namespace: parts[0]!, keys: Object.freeze(parts.slice(1)) });
}

/**
 * The principal at `path` in the decoded metadata context (filter_metadata values are plain JSON by then).
 * Absent: no metadata context, no such namespace or key, or an empty string (a filter that found no peer wrote
 * nothing, or ""). Malformed: anything else that is not a SPIFFE ID (null, another type, `-`, another scheme):
 * the filter that writes it is misconfigured, and the Check must not go on as if no one had said anything.
 */
export function principalFromMetadata(metadataContext: unknown, path: MetadataPath): MetadataPrincipal {
  let value: unknown = (metadataContext as { filterMetadata?: Record<string, unknown> } | undefined)?.filterMetadata;
  for (const key of [path.namespace, ...path.keys]) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return { found: 'absent' };
    value = (value as Record<string, unknown>)[key];
  }
  if (value === '') return { found: 'absent' };
  if (typeof value !== 'string') return { found: 'malformed', problem: `the metadata holds ${value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`}, not a SPIFFE ID string` };
  if (value.length > MAX_SPIFFE_ID_BYTES) return { found: 'malformed', problem: `the metadata value is longer than a SPIFFE ID may be (${MAX_SPIFFE_ID_BYTES} bytes)` };
  const parsed = parseSpiffeId(value);
  if (isSpiffeIdError(parsed)) return { found: 'malformed', problem: `the metadata value is not a SPIFFE ID: ${parsed.message}` };
  return { found: 'principal', principal: parsed.id };
}
