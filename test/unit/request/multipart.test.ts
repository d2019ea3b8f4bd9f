// src/request/multipart.ts: multipart/form-data bodies as opa-envoy-plugin renders them (reference §1.4, §4.1 item 13),
// which is how Go's mime/multipart NextPart and mime.ParseMediaType read them.
import { describe, expect, it } from 'vitest';
import { parseMediaType, parseMultipart } from '../../../src/request/multipart.js';
import { failureOf } from '../helpers.js';

/** A multipart body from parts, with the given line end. */
function multipart(boundary: string, parts: { headers: string[]; content: string }[], eol = '\r\n'): string {
  let body = '';
  for (const part of parts) body += `--${boundary}${eol}${part.headers.join(eol)}${eol}${eol}${part.content}${eol}`;
  return `${body}--${boundary}--${eol}`;
}

const named = (name: string, ...more: string[]): string[] => [`Content-Disposition: form-data; name="${name}"`, ...more];
const qp = (name: string, ...more: string[]): string[] => named(name, 'Content-Transfer-Encoding: quoted-printable', ...more);

const cases: [string, string, string, unknown][] = [
  [
    '§4.1 item 13: a text part and a JSON part',
    'foo',
    multipart('foo', [
      { headers: named('foo'), content: 'bar' },
      { headers: named('bar', 'Content-Type: application/json'), content: '{"name":"bar"}' },
    ]),
    { foo: ['bar'], bar: [{ name: 'bar' }] },
  ],
  [
    "opa-envoy-plugin's own fixture: LF line ends, `application/json;`, an epilogue",
    'foo',
    '--foo\nContent-Disposition: form-data; name="foo"\nContent-Type: text/plain\n\nbar\n' +
      '--foo\nContent-Disposition: form-data; name="bar"\nContent-Type: application/json;\n\n{"name": "bar"}\n--foo--\n\t\t\t\t',
    { foo: ['bar'], bar: [{ name: 'bar' }] },
  ],
  [
    'repeated names collect in order',
    'b',
    multipart('b', [
      { headers: named('tag'), content: 'one' },
      { headers: named('other'), content: 'x' },
      { headers: named('tag'), content: 'two' },
    ]),
    { tag: ['one', 'two'], other: ['x'] },
  ],
  [
    'JSON and text values under one name',
    'b',
    multipart('b', [
      { headers: named('v', 'Content-Type: application/json'), content: '[1,2]' },
      { headers: named('v'), content: '[1,2]' },
    ]),
    { v: [[1, 2], '[1,2]'] },
  ],
  [
    'JSON scalars in JSON parts',
    'b',
    multipart('b', [
      { headers: named('n', 'Content-Type: application/json; charset=utf-8'), content: '42' },
      { headers: named('s', 'content-type: application/json'), content: '"x"' },
      { headers: named('z', 'Content-Type: application/json'), content: 'null' },
    ]),
    { n: [42], s: ['x'], z: [null] },
  ],
  ['text/plain stays a string', 'b', multipart('b', [{ headers: named('a', 'Content-Type: text/plain'), content: '{"x":1}' }]), { a: ['{"x":1}'] }],
  [
    'unnamed parts are skipped',
    'b',
    multipart('b', [
      { headers: ['Content-Type: text/plain'], content: 'no disposition' },
      { headers: ['Content-Disposition: form-data'], content: 'no name' },
      { headers: ['Content-Disposition: form-data; name=""'], content: 'empty name' },
      { headers: ['Content-Disposition: attachment; name="a"'], content: 'not form-data' },
      { headers: named('kept'), content: 'yes' },
    ]),
    { kept: ['yes'] },
  ],
  [
    'disposition type and header names are case-insensitive',
    'b',
    multipart('b', [{ headers: ['CONTENT-DISPOSITION: Form-Data; NAME="a"', 'CONTENT-TYPE: application/json'], content: '{"k":true}' }]),
    { a: [{ k: true }] },
  ],
  [
    'file parts are kept by their form name',
    'b',
    multipart('b', [{ headers: ['Content-Disposition: form-data; name="upload"; filename="a.txt"', 'Content-Type: text/plain'], content: 'hello' }]),
    { upload: ['hello'] },
  ],
  ['quoted name with an escaped quote', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data; name="a\\"b"'], content: 'v' }]), { 'a"b': ['v'] }],
  // Go keeps a backslash that escapes a non-special character (MSIE file paths)
  ['a backslash before a letter is kept', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data; name="a\\b"'], content: 'v' }]), { 'a\\b': ['v'] }],
  ['token (unquoted) name', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data; name=plain'], content: 'v' }]), { plain: ['v'] }],
  ['an unquoted name that is not a token: unnamed', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data; name=a/b'], content: 'v' }]), {}],
  ['two different names: unnamed', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data; name="a"; name="b"'], content: 'v' }]), {}],
  ['the same name twice is fine', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data; name="a"; name="a"'], content: 'v' }]), { a: ['v'] }],
  ['an RFC 2231 name', 'b', multipart('b', [{ headers: ["Content-Disposition: form-data; name*=UTF-8''caf%C3%A9"], content: 'v' }]), { 'café': ['v'] }],
  ['an RFC 2231 name in pieces', 'b', multipart('b', [{ headers: ["Content-Disposition: form-data; name*0*=UTF-8''%C3; name*1*=%A9; name*2=x"], content: 'v' }]), { 'éx': ['v'] }],
  ['an RFC 2231 name wins over the plain one', 'b', multipart('b', [{ headers: ["Content-Disposition: form-data; name=\"x\"; name*=UTF-8''role"], content: 'v' }]), { role: ['v'] }],
  ['a folded Content-Disposition', 'b', multipart('b', [{ headers: ['Content-Disposition: form-data;', ' name="a"'], content: 'v' }]), { a: ['v'] }],
  [
    'a folded Content-Type is read whole',
    'b',
    multipart('b', [{ headers: named('a', 'Content-Type: text/plain;', ' application/json'), content: '{"k":1}' }]),
    { a: [{ k: 1 }] },
  ],
  ['a header name with a space before the colon is never matched', 'b', multipart('b', [{ headers: ['Content-Disposition : form-data; name="a"'], content: 'v' }]), {}],
  ['the first of two Content-Dispositions wins', 'b', multipart('b', [{ headers: [...named('first'), ...named('second')], content: 'v' }]), { first: ['v'] }],
  ['empty value', 'b', multipart('b', [{ headers: named('e'), content: '' }]), { e: [''] }],
  [
    'line breaks inside a value are kept; only the one before the boundary goes',
    'b',
    multipart('b', [{ headers: named('t'), content: 'line1\r\nline2\r\n' }]),
    { t: ['line1\r\nline2\r\n'] },
  ],
  ['the boundary not at a line start is content', 'b', multipart('b', [{ headers: named('t'), content: 'x--b--y' }]), { t: ['x--b--y'] }],
  ['a line that only starts with the boundary is content', 'b', multipart('b', [{ headers: named('t'), content: 'x\r\n--bar\r\ny' }]), { t: ['x\r\n--bar\r\ny'] }],
  [
    'with CRLF boundaries, an LF before the boundary is content',
    'b',
    '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nsafe\n--b\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--b--\r\n',
    { a: ['safe\n--b\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin'] },
  ],
  [
    'a preamble before the first boundary is ignored',
    'b',
    'This is the preamble.\r\n--bX\r\n' + multipart('b', [{ headers: named('a'), content: '1' }]),
    { a: ['1'] },
  ],
  ['closing boundary without a line end', 'b', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--', { a: ['1'] }],
  ['transport padding after a boundary', 'b', '--b  \r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\t\r\n', { a: ['1'] }],
  ['no parts at all', 'b', '--b--\r\n', {}],
  // Go's NextPart reports io.EOF when the body ends inside part headers, and opa-envoy-plugin stops there
  ['the body ends inside part headers', 'b', '--b\r\nContent-Disposition: form-data; name="a"', {}],
  ['the body ends after a boundary line', 'b', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b\r\n', { a: ['x'] }],
  ['a boundary with dashes and digits', '----WebKitFormBoundary7MA4YWxk', multipart('----WebKitFormBoundary7MA4YWxk', [{ headers: named('a'), content: '1' }]), { a: ['1'] }],
  ['non-ASCII names and values', 'b', multipart('b', [{ headers: named('naïve'), content: 'café €' }]), { 'naïve': ['café €'] }],
  // quoted-printable parts are decoded, as Go's NextPart does
  ['quoted-printable: escapes', 'b', multipart('b', [{ headers: qp('role'), content: '=61dmin' }]), { role: ['admin'] }],
  ['quoted-printable: soft line breaks and UTF-8', 'b', multipart('b', [{ headers: qp('a'), content: 'a=3Db=\r\nc =C3=A9' }]), { a: ['a=bc é'] }],
  ['quoted-printable: trailing whitespace dropped', 'b', multipart('b', [{ headers: qp('a'), content: 'x \t\r\ny' }]), { a: ['x\r\ny'] }],
  ['quoted-printable: `=` without hex digits is literal', 'b', multipart('b', [{ headers: qp('a'), content: 'x=zz y= z' }]), { a: ['x=zz y= z'] }],
  ['quoted-printable: lower-case hex', 'b', multipart('b', [{ headers: qp('a'), content: '=e2=82=ac' }]), { a: ['€'] }],
  ['quoted-printable, any case', 'b', multipart('b', [{ headers: named('a', 'Content-Transfer-Encoding: Quoted-Printable'), content: '=41' }]), { a: ['A'] }],
  ['quoted-printable JSON part', 'b', multipart('b', [{ headers: qp('a', 'Content-Type: application/json'), content: '{"k":"=76"}' }]), { a: [{ k: 'v' }] }],
  ['base64 is not decoded', 'b', multipart('b', [{ headers: named('a', 'Content-Transfer-Encoding: base64'), content: 'YWRtaW4=' }]), { a: ['YWRtaW4='] }],
];

describe('parseMultipart', () => {
  it.each(cases)('%s', (_name, boundary, body, expected) => {
    expect(JSON.parse(parseMultipart(body, boundary))).toEqual(expected);
  });

  it('keeps every digit of big integers in JSON parts', () => {
    const text = parseMultipart(multipart('b', [{ headers: named('id', 'Content-Type: application/json'), content: '{"n":12345678901234567890}' }]), 'b');
    expect(text).toBe('{"id":[{"n":12345678901234567890}]}');
  });

  it('keeps "__proto__" and "constructor" as ordinary names', () => {
    const text = parseMultipart(
      multipart('b', [
        { headers: named('__proto__'), content: 'p' },
        { headers: named('constructor'), content: 'c' },
      ]),
      'b',
    );
    expect(text).toBe('{"__proto__":["p"],"constructor":["c"]}');
  });

  it.each<[string, string]>([
    ['no opening boundary', 'just some text'],
    ['only a different boundary', multipart('other', [{ headers: named('a'), content: '1' }])],
    ['missing closing boundary', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'],
    ['junk after the closing boundary on its line', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--junk\r\n'],
    ['junk after a boundary on its line', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b junk\r\n--b--\r\n'],
    ['a stray line between parts', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\n'],
    ['a preamble line over 4096 bytes', `${'p'.repeat(5000)}\r\n${multipart('b', [{ headers: named('a'), content: '1' }])}`],
    ['a header line without a colon', '--b\r\nnot a header\r\n\r\nvalue\r\n--b--\r\n'],
    ['headers starting with a space', '--b\r\n Content-Disposition: form-data; name="a"\r\n\r\nvalue\r\n--b--\r\n'],
    ['a control character in a header value', multipart('b', [{ headers: named('a', 'X-A: y\u0001'), content: '1' }])],
    ['a bad character in a header name', multipart('b', [{ headers: named('a', 'X(: y'), content: '1' }])],
    ['an invalid JSON part', multipart('b', [{ headers: named('a', 'Content-Type: application/json'), content: '{"a":' }])],
    ['an empty JSON part', multipart('b', [{ headers: named('a', 'Content-Type: application/json'), content: '' }])],
    ['quoted-printable with a control character', multipart('b', [{ headers: qp('a'), content: 'a\u0001b' }])],
    ['quoted-printable with a bare `=` line', multipart('b', [{ headers: qp('a'), content: '=' }])],
    ['quoted-printable with a CR after a soft break', multipart('b', [{ headers: qp('a'), content: 'a=\r' }])],
    ['quoted-printable with a line over 4096 bytes', multipart('b', [{ headers: qp('a'), content: 'x'.repeat(4097) + '\r\ny' }])],
  ])('%s is a request_parse_error', (_name, body) => {
    expect(failureOf(() => parseMultipart(body, 'b'))).toBe('request_parse_error');
  });
});

describe('parseMediaType', () => {
  it.each<[string, { type: string; params: Record<string, string> } | undefined]>([
    ['multipart/form-data; boundary=foo', { type: 'multipart/form-data', params: { boundary: 'foo' } }],
    ['Multipart/Form-Data; BOUNDARY="a b;c"', { type: 'multipart/form-data', params: { boundary: 'a b;c' } }],
    ['multipart/form-data;boundary=foo;charset=utf-8', { type: 'multipart/form-data', params: { boundary: 'foo', charset: 'utf-8' } }],
    ['form-data; NAME="x"; filename="y.txt"', { type: 'form-data', params: { name: 'x', filename: 'y.txt' } }],
    ['form-data; name="a\\\\b"', { type: 'form-data', params: { name: 'a\\b' } }],
    ['form-data; filename="C:\\dir\\f.txt"', { type: 'form-data', params: { filename: 'C:\\dir\\f.txt' } }],
    ["form-data; name*=UTF-8'en'caf%C3%A9", { type: 'form-data', params: { name: 'café' } }],
    ["form-data; name*=ISO-8859-1''caf%E9", { type: 'form-data', params: {} }],
    ['form-data; a=1; a=1', { type: 'form-data', params: { a: '1' } }],
    ['form-data; boundary=""', { type: 'form-data', params: { boundary: '' } }],
    ['multipart/form-data', { type: 'multipart/form-data', params: {} }],
    ['multipart/form-data;', { type: 'multipart/form-data', params: {} }],
    [' multipart/form-data ; boundary=b', { type: 'multipart/form-data', params: { boundary: 'b' } }],
    ['multipart/form-data; boundary', undefined],
    ['multipart/form-data; boundary=', undefined],
    ['multipart/form-data; =foo', undefined],
    ['multipart/form-data; boundary=b; boundary=c', undefined],
    ['multipart/form-data; a=1; A=2', undefined],
    ['multipart/form-data; boundary=b/c', undefined],
    ['multipart/form-data; boundary=b c', undefined],
    ['form-data; name="unterminated', undefined],
    ['form-data; name="a"junk', undefined],
    ['text/plain, multipart/form-data; boundary=b', undefined],
    ['multipart/; boundary=b', undefined],
    ['', undefined],
  ])('%j → %j', (value, expected) => {
    const media = parseMediaType(value);
    expect(media === undefined ? undefined : { type: media.type, params: { ...media.params } }).toEqual(expected);
  });
});
