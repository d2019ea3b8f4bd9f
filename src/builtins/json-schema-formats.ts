// The `format` checks of OPA's gojsonschema (internal/gojsonschema/format_checkers.go), on the Go semantics this
// folder already has: net.ParseIP, time.Parse, url.Parse, regexp; only strings are checked, as there.
import { RE2JS } from 're2js';
import { parseTime } from './go-time.js';
import { parseUrl } from './go-url.js';
import { parseIp } from './net.js';

const succeeds = (run: () => unknown): boolean => {
  try {
    run();
    return true;
  } catch {
    return false;
  }
};

// gojsonschema's own expressions, matched by RE2 as Go matches them: linear in the input whatever it is (the
// URI template's nested repetition would backtrack exponentially in a JavaScript RegExp).
const goRegexp = (pattern: string): ((input: string) => boolean) => {
  const compiled = RE2JS.compile(pattern);
  return (input) => compiled.matcher(input).find();
};
const HOSTNAME = goRegexp('^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])(\\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9]))*$');
const URI_TEMPLATE = goRegexp('^([^{]*({[^}]*})?)*$');
const UUID = goRegexp('^(?i)[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$');
const JSON_POINTER = goRegexp('^(?:/(?:[^~/]|~0|~1)*)*$');
const RELATIVE_JSON_POINTER = goRegexp('^(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^~/]|~0|~1)*)*)$');

// RFC 5322's atext, and any non-ASCII character (Go's net/mail allows UTF-8 there).
const ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const dotAtom = (text: string): boolean => text.split('.').every((atom) => ATOM.test(atom));
const QUOTED = /^"(?:[^"\\\r\n]|\\[\t -~\u0080-\u{10FFFF}])*"$/u;

/** addr-spec: a dot-atom or quoted local part, '@', a dot-atom domain or a domain literal. */
function isAddrSpec(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0) return false;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!(dotAtom(local) || QUOTED.test(local))) return false;
  return dotAtom(domain) || /^\[[!-Z^-~]*\]$/.test(domain);
}

/** A display name: words (atoms, with dots as Go's obsolete phrase allows) and quoted strings, between spaces. */
function isDisplayName(name: string): boolean {
  let index = 0;
  while (index < name.length) {
    if (/\s/.test(name[index]!)) {
      index++;
    } else if (name[index] === '"') {
      let end = index + 1;
      while (end < name.length && name[end] !== '"') end += name[end] === '\\' ? 2 : 1;
      if (end >= name.length || !QUOTED.test(name.slice(index, end + 1))) return false;
      index = end + 1;
    } else {
      let end = index;
      while (end < name.length && !/\s/.test(name[end]!) && name[end] !== '"') end++;
      if (!name.slice(index, end).split('.').every((atom) => atom === '' || ATOM.test(atom))) return false;
      index = end;
    }
  }
  return true;
}

/** Comments (parenthesised, nestable, outside quoted strings) read as spaces, as Go's CFWS; null when unbalanced. */
function withoutComments(text: string): string | null {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (text[i + 1] ?? '');
      i++;
    } else if (depth === 0 && c === '"') {
      quoted = !quoted;
      out += c;
    } else if (!quoted && c === '(') {
      depth++;
    } else if (!quoted && c === ')') {
      if (depth === 0) return null;
      if (--depth === 0) out += ' ';
    } else if (depth === 0) {
      out += c;
    }
  }
  return depth === 0 ? out : null;
}

/** net/mail.ParseAddress: `addr-spec`, or a display name and `<addr-spec>`; comments where spaces may be. */
function isMailAddress(input: string): boolean {
  const text = withoutComments(input)?.trim();
  if (text === undefined) return false;
  if (text.endsWith('>')) {
    const open = text.lastIndexOf('<');
    if (open < 0 || !isDisplayName(text.slice(0, open))) return false;
    return isAddrSpec(text.slice(open + 1, -1).trim());
  }
  return isAddrSpec(text);
}

const parsesAs = (input: string, ...layouts: string[]): boolean => layouts.some((layout) => succeeds(() => parseTime(layout, input)));

const isUri = (input: string): boolean => !input.includes('\\') && succeeds(() => {
  if (parseUrl(input).scheme === '') throw new Error('no scheme');
});
const isUriReference = (input: string): boolean => !input.includes('\\') && succeeds(() => parseUrl(input));

/** Each gojsonschema format, as a check of a string. */
export const GO_FORMATS: Readonly<Record<string, (input: string) => boolean>> = {
  date: (input) => parsesAs(input, '2006-01-02'),
  time: (input) => parsesAs(input, '15:04:05Z07:00', '15:04:05'),
  'date-time': (input) => parsesAs(input, '15:04:05', '15:04:05Z07:00', '2006-01-02', '2006-01-02T15:04:05Z07:00', '2006-01-02T15:04:05.999999999Z07:00'),
  hostname: (input) => HOSTNAME(input) && input.length < 256,
  email: isMailAddress,
  'idn-email': isMailAddress,
  ipv4: (input) => parseIp(input) !== undefined && input.includes('.'),
  ipv6: (input) => parseIp(input) !== undefined && input.includes(':'),
  uri: isUri,
  iri: isUri,
  'uri-reference': isUriReference,
  'iri-reference': isUriReference,
  'uri-template': (input) => {
    if (input.includes('\\')) return false;
    let path: string;
    try {
      path = parseUrl(input).path;
    } catch {
      return false;
    }
    return URI_TEMPLATE(path);
  },
  uuid: (input) => UUID(input),
  regex: (input) => input === '' || succeeds(() => RE2JS.compile(input)),
  'json-pointer': (input) => JSON_POINTER(input),
  'relative-json-pointer': (input) => RELATIVE_JSON_POINTER(input),
};
