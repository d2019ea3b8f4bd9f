// A JSON body's text as Go's encoding/json reads it, checked and adjusted without building its value: the
// nesting limit, and lone surrogate escapes. Both are linear scans (no recursion a body can drive).

/** encoding/json's maxNestingDepth: a body nested deeper is a syntax error there ("exceeded max depth"). */
export const MAX_JSON_DEPTH = 10_000;

/** True when the JSON text nests arrays and objects deeper than `limit` (strings skipped, escapes honoured). */
export function exceedsJsonDepth(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++; // backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }
  return false;
}

const SURROGATE_ESCAPE = /\\u[dD][89abcdefABCDEF]/;

/**
 * The text with every `\uD800`–`\uDFFF` escape that does not form a valid pair written as `\ufffd`, as Go
 * reads it (unquote: a high surrogate not followed by a low one is U+FFFD, and the next escape is read on its
 * own; a lone low surrogate is U+FFFD). OPA's wasm JSON parser refuses such escapes outright, so the policy
 * would never run. Text without surrogate escapes is returned as it is.
 */
export function replaceLoneSurrogateEscapes(text: string): string {
  if (!SURROGATE_ESCAPE.test(text)) return text;
  let out = '';
  let copied = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!inString) {
      if (code === 0x22) inString = true;
      continue;
    }
    if (code === 0x22) {
      inString = false;
      continue;
    }
    if (code !== 0x5c) continue;
    if (text.charCodeAt(i + 1) !== 0x75) {
      i++; // \" \\ \/ \b \f \n \r \t
      continue;
    }
    const unit = parseInt(text.slice(i + 2, i + 6), 16);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 6) === 0x5c && text.charCodeAt(i + 7) === 0x75 ? parseInt(text.slice(i + 8, i + 12), 16) : Number.NaN;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 11; // a valid pair
        continue;
      }
    } else if (!(unit >= 0xdc00 && unit <= 0xdfff)) {
      i += 5;
      continue;
    }
    out += text.slice(copied, i) + '\\ufffd';
    copied = i + 6;
    i += 5;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
