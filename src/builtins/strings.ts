// strings.any_prefix_match/any_suffix_match/count/split_n and indexof_n (OPA's strings.go).
import { collectionArg, fail, intArg, stringArg, type BuiltinTable } from './builtin.js';

/** A string, or an array/set of strings. */
function stringsOf(value: unknown, position: number): string[] {
  if (typeof value === 'string') return [value];
  const items = collectionArg(value, position);
  return items.map((item) => stringArg(item, position));
}

/** strings.Count: non-overlapping occurrences; an empty substring counts code points + 1. */
function countOccurrences(text: string, sub: string): number {
  if (sub === '') return [...text].length + 1;
  let count = 0;
  for (let index = text.indexOf(sub); index >= 0; index = text.indexOf(sub, index + sub.length)) count++;
  return count;
}

/** strings.SplitN with Go's limit semantics (limit < 0: all; an empty separator splits into code points). */
function splitN(text: string, separator: string, limit: number): string[] {
  if (limit === 0) return [];
  if (separator === '') {
    const chars = [...text];
    if (limit < 0 || limit >= chars.length) return chars;
    return [...chars.slice(0, limit - 1), chars.slice(limit - 1).join('')];
  }
  const parts: string[] = [];
  let rest = text;
  while (limit < 0 || parts.length < limit - 1) {
    const index = rest.indexOf(separator);
    if (index < 0) break;
    parts.push(rest.slice(0, index));
    rest = rest.slice(index + separator.length);
  }
  parts.push(rest);
  return parts;
}

export const stringsBuiltins: BuiltinTable = {
  'strings.any_prefix_match': (_evaluation, values, prefixes) => {
    const texts = stringsOf(values, 1);
    const wanted = stringsOf(prefixes, 2);
    return texts.some((text) => wanted.some((prefix) => text.startsWith(prefix)));
  },
  'strings.any_suffix_match': (_evaluation, values, suffixes) => {
    const texts = stringsOf(values, 1);
    const wanted = stringsOf(suffixes, 2);
    return texts.some((text) => wanted.some((suffix) => text.endsWith(suffix)));
  },
  'strings.count': (_evaluation, text, sub) => countOccurrences(stringArg(text, 1), stringArg(sub, 2)),
  'strings.split_n': (_evaluation, text, separator, count) => {
    const s = stringArg(text, 1);
    const d = stringArg(separator, 2);
    const n = intArg(count, 3);
    if (n >= 0) return splitN(s, d, n + 1).slice(0, n);
    const parts = splitN(s, d, -1);
    return parts.slice(Math.max(0, parts.length + n));
  },
  // Positions in code points, as Go's []rune.
  indexof_n: (_evaluation, text, search) => {
    const base = [...stringArg(text, 1)];
    const needle = [...stringArg(search, 2)];
    if (needle.length === 0) fail('empty search character');
    const out: number[] = [];
    for (let i = 0; i + needle.length <= base.length; i++) {
      if (needle.every((char, j) => base[i + j] === char)) out.push(i);
    }
    return out;
  },
};
