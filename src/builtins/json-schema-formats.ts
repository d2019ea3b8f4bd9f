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

/** net/mail.ParseAddress without comments: `addr-spec`, or a display name (words, quoted strings) and `<addr-spec>`. */
function isMailAddress(input: string): boolean {
  const text = input.trim();
  if (text.endsWith('>')) {
    const open = text.lastIndexOf('<');
    if (open < 0) return false;
    const name = text.slice(0, open).trim();
    const words = name === '' ? [] : name.match(/"(?:[^"\\]|\\.)*"|[^\s"]+/gu) ?? [];
    if (words.join('').length !== name.replace(/\s+/g, '').length) return false;
    if (!words.every((word) => QUOTED.test(word) || dotAtom(word.replace(/\.$/, '')))) return false;
    return isAddrSpec(text.slice(open + 1, -1));
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
