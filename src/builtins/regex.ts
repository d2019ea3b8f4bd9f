// regex.find_n/replace/split/template_match: Go's RE2 syntax and match iteration, on re2js (a port of RE2).
import { RE2JS } from 're2js';
import { BoundedCache, stringBytes } from '../bounded-cache.js';
import { fail, intArg, stringArg, type BuiltinTable } from './builtin.js';

// Patterns can come from the request (a policy may match a header against a pattern in another header), so the
// compiled ones are kept within a bound in bytes as well as entries (a compiled program is estimated at 16
// times its pattern) and a pattern over 64 KiB is compiled every time, never kept.
const compiled = new BoundedCache<RE2JS>({ maxEntries: 1000, maxBytes: 16 * 1024 * 1024, maxKeyLength: 64 * 1024 }, (pattern) => 16 * stringBytes(pattern));

/** regexp.Compile: RE2 syntax, so the patterns Go rejects (lookarounds, backreferences) are errors here too. */
function compile(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch (error) {
      fail(`error parsing regexp: ${(error as Error).message}`);
    }
    compiled.set(pattern, re);
  }
  return re;
}

/** One match: [start, end] for the whole match and each group (-1 when a group did not take part). */
type Match = number[];

function codePointWidth(text: string, position: number): number {
  const code = text.codePointAt(position);
  return code !== undefined && code > 0xffff ? 2 : 1;
}

/** Go's allMatches: successive non-overlapping matches; an empty match right after a match is skipped. */
function findAll(re: RE2JS, text: string, limit: number): Match[] {
  const out: Match[] = [];
  const matcher = re.matcher(text);
  const groups = re.groupCount();
  let position = 0;
  let previousEnd = -1;
  while ((limit < 0 || out.length < limit) && position <= text.length) {
    if (!matcher.find(position)) break;
    const match: Match = [];
    for (let g = 0; g <= groups; g++) match.push(matcher.start(g), matcher.end(g));
    let accept = true;
    if (match[1] === position) {
      if (match[0] === previousEnd) accept = false;
      position += position < text.length ? codePointWidth(text, position) : 1;
    } else {
      position = match[1]!;
    }
    previousEnd = match[1]!;
    if (accept) out.push(match);
  }
  return out;
}

/** Regexp.Split(s, -1). */
function split(re: RE2JS, pattern: string, text: string): string[] {
  if (pattern.length > 0 && text.length === 0) return [''];
  const parts: string[] = [];
  let begin = 0;
  let end = 0;
  for (const match of findAll(re, text, -1)) {
    end = match[0]!;
    if (match[1] !== 0) parts.push(text.slice(begin, end));
    begin = match[1]!;
  }
  if (end !== text.length) parts.push(text.slice(begin));
  return parts;
}

/** Go's extract: a "name" or "{name}" after a "$". */
function extractName(template: string): { name: string; number: number; rest: string } | undefined {
  let s = template;
  let brace = false;
  if (s[0] === '{') {
    brace = true;
    s = s.slice(1);
  }
  const match = /^[\p{L}\p{Nd}_]+/u.exec(s);
  if (match === null) return undefined;
  const name = match[0];
  let i = name.length;
  if (brace) {
    if (s[i] !== '}') return undefined;
    i++;
  }
  let number = /^[0-9]+$/.test(name) && name.length <= 8 ? Number(name) : -1;
  if (name[0] === '0' && name.length > 1) number = -1;
  return { name, number, rest: s.slice(i) };
}

/** Regexp.Expand: $1, ${1}, $name, ${name}, $$. */
function expand(template: string, text: string, match: Match, names: Record<string, number>): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest[0] === '$') {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const extracted = extractName(rest);
    if (extracted === undefined) {
      out += '$';
      continue;
    }
    rest = extracted.rest;
    const index = extracted.number >= 0 ? extracted.number : names[extracted.name];
    if (index !== undefined && 2 * index + 1 < match.length && match[2 * index]! >= 0) {
      out += text.slice(match[2 * index], match[2 * index + 1]);
    }
  }
  return out + rest;
}

/** Regexp.ReplaceAllString. */
function replaceAll(re: RE2JS, text: string, template: string): string {
  const names = re.namedGroups() as Record<string, number>;
  const matcher = re.matcher(text);
  const groups = re.groupCount();
  let out = '';
  let lastEnd = 0;
  let search = 0;
  while (search <= text.length) {
    if (!matcher.find(search)) break;
    const match: Match = [];
    for (let g = 0; g <= groups; g++) match.push(matcher.start(g), matcher.end(g));
    out += text.slice(lastEnd, match[0]);
    if (match[1]! > lastEnd || match[0] === 0) out += expand(template, text, match, names);
    lastEnd = match[1]!;
    const width = search < text.length ? codePointWidth(text, search) : 1;
    if (search + width > match[1]!) search += width;
    else if (search + 1 > match[1]!) search++;
    else search = match[1]!;
  }
  return out + text.slice(lastEnd);
}

/** regexp.QuoteMeta. */
function quoteMeta(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** compileRegexTemplate: literal text quoted, each delimited part a group with its own pattern. */
function compileTemplate(template: string, start: string, end: string): RE2JS {
  const indices: number[] = [];
  let level = 0;
  let open = 0;
  for (let i = 0; i < template.length; i++) {
    if (template[i] === start) {
      if (++level === 1) open = i;
    } else if (template[i] === end) {
      if (--level === 0) indices.push(open, i + 1);
      else if (level < 0) fail(`unbalanced braces in "${template}"`);
    }
  }
  if (level !== 0) fail(`unbalanced braces in "${template}"`);
  let pattern = '^';
  let last = 0;
  for (let i = 0; i < indices.length; i += 2) {
    const raw = template.slice(last, indices[i]);
    last = indices[i + 1]!;
    const part = template.slice(indices[i]! + 1, last - 1);
    pattern += `${quoteMeta(raw)}(${part})`;
    compile(`^${part}$`);
  }
  pattern += `${quoteMeta(template.slice(last))}$`;
  return compile(pattern);
}

export const regexBuiltins: BuiltinTable = {
  'regex.split': (_evaluation, pattern, value) => {
    const p = stringArg(pattern, 1);
    return split(compile(p), p, stringArg(value, 2));
  },
  'regex.find_n': (_evaluation, pattern, value, count) => {
    const re = compile(stringArg(pattern, 1));
    const text = stringArg(value, 2);
    const n = intArg(count, 3);
    return findAll(re, text, n).map((match) => text.slice(match[0], match[1]));
  },
  'regex.replace': (_evaluation, value, pattern, replacement) => {
    const text = stringArg(value, 1);
    const re = compile(stringArg(pattern, 2));
    return replaceAll(re, text, stringArg(replacement, 3));
  },
  'regex.template_match': (_evaluation, template, value, start, end) => {
    const t = stringArg(template, 1);
    const text = stringArg(value, 2);
    const s = stringArg(start, 3);
    const e = stringArg(end, 4);
    if (Buffer.byteLength(s) !== 1) fail('start delimiter has to be exactly one character long');
    if (Buffer.byteLength(e) !== 1) fail('end delimiter has to be exactly one character long');
    return compileTemplate(t, s, e).matcher(text).find();
  },
};
