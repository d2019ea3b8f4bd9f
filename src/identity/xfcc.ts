// Pure: a quote-aware parser for Envoy's x-forwarded-client-cert header (reference §4 X-1..X-3) and the peer URI it carries (T-16/T-17).

/** One `key=value` pair; the key is ASCII-lowercased (keys are case-insensitive), the value is kept as written. */
export interface XfccPair {
  readonly key: string;
  readonly value: string;
}

/** One proxy's element: its pairs in header order (keys such as `By`, `DNS` and `URI` may repeat). */
export type XfccElement = readonly XfccPair[];

export type XfccErrorCode = 'empty' | 'missing_equals' | 'empty_key' | 'unterminated_quote' | 'stray_quote';

/** Why a header is malformed. A value, not a thrown Error; `message` is for the log and never repeats the header. */
export class XfccError {
  readonly code: XfccErrorCode;
  readonly message: string;
  constructor(code: XfccErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

export function isXfccError(value: XfccElement[] | XfccError): value is XfccError {
  return value instanceof XfccError;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

function asciiLowercase(text: string): string {
  // Not toLowerCase(): Unicode folding would turn e.g. KELVIN SIGN into "k" and make unrelated keys collide.
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x20)) : text;
}

/**
 * Splits the header into elements (on `,`), pairs (on `;`) and key/value (at the first `=`), all outside double quotes.
 * A value is either a double-quoted string, where a backslash takes the next character literally (`\"` is a quote),
 * or unquoted text without `"`, `,` or `;` (it may contain `=`: Envoy does not quote By and URI, X-2).
 * Nothing is trimmed. Anything else (a pair without `=`, an empty key, an unterminated quote, a quote that does not
 * wrap the whole value, an empty element or a trailing separator) is malformed. Never throws.
 */
export function parseXfcc(header: string): XfccElement[] | XfccError {
  if (typeof header !== 'string' || header.length === 0) return new XfccError('empty', 'the header is empty');
  const length = header.length;
  const elements: XfccElement[] = [];
  let pairs: XfccPair[] = [];
  let i = 0;
  for (;;) {
    const keyStart = i;
    let c = -1;
    for (; i < length; i++) {
      c = header.charCodeAt(i);
      if (c === EQUALS || c === COMMA || c === SEMICOLON || c === QUOTE) break;
    }
    if (i === length || c === COMMA || c === SEMICOLON) {
      return new XfccError('missing_equals', `the pair at index ${keyStart} has no "="`);
    }
    if (c === QUOTE) return new XfccError('stray_quote', `a key holds a quote at index ${i}`);
    if (i === keyStart) return new XfccError('empty_key', `the pair at index ${keyStart} has an empty key`);
    const key = asciiLowercase(header.slice(keyStart, i));
    i++; // past '='

    let value: string;
    if (i < length && header.charCodeAt(i) === QUOTE) {
      const quoteStart = i;
      i++;
      let chunkStart = i;
      let unescaped = '';
      let closed = false;
      for (; i < length; i++) {
        c = header.charCodeAt(i);
        if (c === QUOTE) {
          closed = true;
          break;
        }
        if (c === BACKSLASH) {
          if (i + 1 >= length) break;
          unescaped += header.slice(chunkStart, i);
          i++;
          chunkStart = i; // the escaped character starts the next chunk, so it is kept as is
        }
      }
      if (!closed) return new XfccError('unterminated_quote', `the quote at index ${quoteStart} is never closed`);
      value = unescaped + header.slice(chunkStart, i);
      i++; // past the closing quote
      if (i < length) {
        c = header.charCodeAt(i);
        if (c !== COMMA && c !== SEMICOLON) {
          return new XfccError('stray_quote', `text follows the closing quote at index ${i - 1}`);
        }
      }
    } else {
      const valueStart = i;
      for (; i < length; i++) {
        c = header.charCodeAt(i);
        if (c === COMMA || c === SEMICOLON) break;
        if (c === QUOTE) return new XfccError('stray_quote', `an unquoted value holds a quote at index ${i}`);
      }
      value = header.slice(valueStart, i);
    }
    pairs.push({ key, value });

    if (i >= length) {
      elements.push(pairs);
      return elements;
    }
    if (header.charCodeAt(i) === COMMA) {
      elements.push(pairs);
      pairs = [];
    }
    i++; // past ',' or ';'
  }
}

export type XfccIdentityError = 'malformed' | 'no_uri' | 'several_uris' | 'empty_uri';

/**
 * The peer's URI SAN from the LAST element, the one this hop's Envoy appended (APPEND_FORWARD, T-16); earlier
 * elements are client-controlled and ignored. The element must hold exactly one non-empty URI (T-17).
 * Envoy does not escape URI values, so the caller must still require the URI to equal source.principal.
 */
export function identityFromXfcc(header: string): { uri: string } | { error: XfccIdentityError } {
  const elements = parseXfcc(header);
  if (elements instanceof XfccError) return { error: 'malformed' };
  const last = elements[elements.length - 1];
  if (last === undefined) return { error: 'malformed' };
  let uri: string | undefined;
  for (const pair of last) {
    if (pair.key !== 'uri') continue;
    if (uri !== undefined) return { error: 'several_uris' };
    uri = pair.value;
  }
  if (uri === undefined) return { error: 'no_uri' };
  if (uri === '') return { error: 'empty_uri' };
  return { uri };
}
