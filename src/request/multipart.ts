// Pure: a multipart/form-data body → parsed_body JSON text, as opa-envoy-plugin builds it:
// each named part appended to an array under its name; JSON parts parsed, the rest kept as strings.
// Parts, headers, parameters and quoted-printable are read as Go's mime packages read them, so the policy
// sees the parts opa-envoy-plugin (and a Go upstream) would see.
import { CheckFailure } from '../errors.js';
import { describeJsonSyntaxError } from './json-error.js';
import { decodeUtf8AsGo } from './utf8.js';

function fail(message: string): never {
  throw new CheckFailure('request_parse_error', `invalid multipart body: ${message}`);
}

/**
 * Returns the JSON text of `{name: [value, …]}`; throws request_parse_error on a malformed body. Boundaries,
 * preamble and line ends are found as Go's multipart.Reader finds them (opa-envoy-plugin reads with NextPart).
 */
export function parseMultipart(body: string, boundary: string): string {
  const reader = new PartReader(body, boundary);
  const parts = new Map<string, string[]>();
  // Parts are named by their place in failure messages: a part's name is request content, kept out of the log.
  let partNumber = 0;
  for (let part = reader.nextPart(); part !== undefined; part = reader.nextPart()) {
    partNumber++;
    const name = formName(part.headers.get('content-disposition'));
    if (name === undefined) continue;
    let content = part.content;
    if (part.headers.get('content-transfer-encoding')?.toLowerCase() === 'quoted-printable') {
      const decoded = decodeQuotedPrintable(content);
      if (decoded === undefined) fail(`part ${partNumber}: invalid quoted-printable content`);
      content = decoded;
    }
    const contentType = part.headers.get('content-type');
    let valueJson: string;
    if (contentType !== undefined && contentType.includes('application/json')) {
      try {
        JSON.parse(content);
      } catch (error) {
        fail(`part ${partNumber}: invalid JSON: ${describeJsonSyntaxError(error)}`);
      }
      valueJson = content;
    } else {
      valueJson = JSON.stringify(content);
    }
    const list = parts.get(name);
    if (list) list.push(valueJson);
    else parts.set(name, [valueJson]);
  }

  let json = '{';
  let first = true;
  for (const [name, values] of parts) {
    json += (first ? '' : ',') + JSON.stringify(name) + ':[' + values.join(',') + ']';
    first = false;
  }
  return json + '}';
}

// Go's multipart.Reader reads its lines through a bufio.Reader of this size; a longer line is an error.
const LINE_LIMIT = 4096;

const skipSpaceTab = (text: string, from: number): number => {
  let at = from;
  while (text[at] === ' ' || text[at] === '\t') at++;
  return at;
};

/** Go's multipart.Reader over a complete body: NextPart's line rules and the part reader's boundary scan. */
class PartReader {
  private at = 0;
  private partsRead = 0;
  /** CRLF, or LF if the first boundary line ends in a bare LF (as Go allows) */
  private newline = '\r\n';
  private readonly dashBoundary: string;
  private readonly dashBoundaryDash: string;

  constructor(
    private readonly body: string,
    boundary: string,
  ) {
    this.dashBoundary = '--' + boundary;
    this.dashBoundaryDash = this.dashBoundary + '--';
  }

  /** The next part, or undefined after the closing boundary. */
  nextPart(): { headers: Map<string, string>; content: string } | undefined {
    const { body } = this;
    let expectNewPart = false;
    for (;;) {
      const lf = body.indexOf('\n', this.at);
      const atEnd = lf === -1;
      const line = atEnd ? body.slice(this.at) : body.slice(this.at, lf + 1);
      if (line.length > LINE_LIMIT / 3 && Buffer.byteLength(line, 'utf8') > LINE_LIMIT) fail('line too long');
      this.at += line.length;
      if (atEnd && this.isFinalBoundary(line)) return undefined;
      if (atEnd) fail(this.partsRead === 0 ? 'no opening boundary' : 'missing closing boundary');
      if (this.isDelimiterLine(line)) {
        this.partsRead++;
        const read = readPartHeaders(body, this.at);
        // Go's NextPart returns io.EOF when the body ends inside a header block; opa-envoy-plugin stops there.
        if (read === undefined) return undefined;
        const { headers, end } = read;
        const contentEnd = this.scanContent(end);
        this.at = contentEnd;
        return { headers, content: body.slice(end, contentEnd) };
      }
      if (this.isFinalBoundary(line)) return undefined;
      if (expectNewPart) fail('expected a boundary after a part');
      if (this.partsRead === 0) continue; // preamble
      if (line === this.newline) {
        expectNewPart = true;
        continue;
      }
      fail('unexpected line between parts');
    }
  }

  private isDelimiterLine(line: string): boolean {
    if (!line.startsWith(this.dashBoundary)) return false;
    const rest = line.slice(skipSpaceTab(line, this.dashBoundary.length));
    if (this.partsRead === 0 && rest === '\n') this.newline = '\n';
    return rest === this.newline;
  }

  private isFinalBoundary(line: string): boolean {
    if (!line.startsWith(this.dashBoundaryDash)) return false;
    const rest = line.slice(skipSpaceTab(line, this.dashBoundaryDash.length));
    return rest === '' || rest === this.newline;
  }

  /** Where the content starting at `from` ends: before a newline + boundary that is followed by LWSP, a line end or `--`. */
  private scanContent(from: number): number {
    const { body, dashBoundary } = this;
    if (body.startsWith(dashBoundary, from) && this.endsBoundary(from + dashBoundary.length)) return from;
    const marker = this.newline + dashBoundary;
    let search = from;
    for (;;) {
      const found = body.indexOf(marker, search);
      if (found === -1) return body.length;
      if (this.endsBoundary(found + marker.length)) return found;
      search = found + marker.length;
    }
  }

  /** Go's matchAfterPrefix with all the input at hand. */
  private endsBoundary(after: number): boolean {
    const { body } = this;
    if (after === body.length) return true;
    const char = body[after];
    if (char === ' ' || char === '\t' || char === '\r' || char === '\n') return true;
    return char === '-' && body[after + 1] === '-';
  }
}

/** One line from `at` without its line end (LF or CRLF), and where the next starts; undefined at the end. */
function readLine(body: string, at: number): { text: string; next: number } | undefined {
  if (at >= body.length) return undefined;
  const lf = body.indexOf('\n', at);
  if (lf === -1) return { text: body.slice(at), next: body.length };
  return { text: body.slice(at, body[lf - 1] === '\r' && lf > at ? lf - 1 : lf), next: lf + 1 };
}

const trimSpaceTab = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, '');
// Go's textproto: header names are tokens (a space is tolerated but the header can never be looked up);
// values may hold HTAB, SP, visible ASCII and anything non-ASCII.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z ]+$/;
const BAD_HEADER_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * The part's headers as Go's textproto reads them (keys lowercased, first value wins, folded lines joined
 * with a space), and where the content starts; undefined if the body ends before the blank line.
 */
function readPartHeaders(body: string, from: number): { headers: Map<string, string>; end: number } | undefined {
  const headers = new Map<string, string>();
  if (body[from] === ' ' || body[from] === '\t') fail('part headers start with a space');
  let at = from;
  for (;;) {
    const line = readLine(body, at);
    if (line === undefined) return undefined;
    at = line.next;
    if (line.text === '') return { headers, end: at };
    if (!line.text.includes(':')) fail('malformed part header');
    let field = trimSpaceTab(line.text);
    while (body[at] === ' ' || body[at] === '\t') {
      while (body[at] === ' ' || body[at] === '\t') at++;
      field += ' ';
      const more = readLine(body, at);
      if (more === undefined) break;
      at = more.next;
      field += trimSpaceTab(more.text);
    }
    const colon = field.indexOf(':');
    const key = field.slice(0, colon);
    const value = field.slice(colon + 1);
    if (!HEADER_NAME.test(key) || BAD_HEADER_VALUE.test(value)) fail('malformed part header');
    const lower = key.toLowerCase();
    if (!key.includes(' ') && !headers.has(lower)) headers.set(lower, value.replace(/^[ \t]+/, ''));
  }
}

/** The `name` of a `form-data` Content-Disposition, as Go's Part.FormName; undefined when unnamed. */
function formName(disposition: string | undefined): string | undefined {
  if (disposition === undefined) return undefined;
  const media = parseMediaType(disposition);
  if (media === undefined || media.type !== 'form-data') return undefined;
  const name = media.params['name'];
  return name === undefined || name === '' ? undefined : name;
}

const QP_LINE_LIMIT = 4096; // Go's quotedprintable reads lines through a default-sized bufio.Reader

/**
 * Go's mime/quotedprintable Reader, which multipart's NextPart (used by opa-envoy-plugin) applies to parts
 * sent with `Content-Transfer-Encoding: quoted-printable`; undefined where Go reports an error.
 */
function decodeQuotedPrintable(content: string): string | undefined {
  const input = Buffer.from(content, 'utf8');
  const output = Buffer.allocUnsafe(input.length);
  let length = 0;
  let start = 0;
  while (start < input.length) {
    const lf = input.indexOf(0x0a, start);
    const end = lf === -1 ? input.length : lf + 1;
    if (end - start > QP_LINE_LIMIT) return undefined;
    const whole = input.subarray(start, end);
    start = end;
    const hasLf = lf !== -1;
    const hasCrLf = hasLf && whole.length >= 2 && whole[whole.length - 2] === 0x0d;
    let lineEnd = whole.length;
    while (lineEnd > 0 && (whole[lineEnd - 1] === 0x0a || whole[lineEnd - 1] === 0x0d || whole[lineEnd - 1] === 0x20 || whole[lineEnd - 1] === 0x09)) lineEnd--;
    let line: Buffer = whole.subarray(0, lineEnd);
    let badSoftBreak = false;
    if (lineEnd > 0 && whole[lineEnd - 1] === 0x3d) {
      // a soft line break: `=` then only whitespace up to the line end (or the end of the input)
      let right = lineEnd;
      while (right < whole.length && (whole[right] === 0x20 || whole[right] === 0x09)) right++;
      line = whole.subarray(0, lineEnd - 1);
      const rest = whole.subarray(right);
      const endsLine = rest[0] === 0x0a || (rest[0] === 0x0d && rest[1] === 0x0a);
      badSoftBreak = !endsLine && !(rest.length === 0 && line.length > 0 && !hasLf);
    } else if (hasLf) {
      line = Buffer.concat([line, hasCrLf ? CRLF : LF]);
    }
    for (let i = 0; i < line.length; i++) {
      let byte = line[i]!;
      if (byte === 0x3d) {
        const high = hexValue(line[i + 1]);
        const low = hexValue(line[i + 2]);
        if (high !== undefined && low !== undefined) {
          byte = (high << 4) | low;
          i += 2;
        } else if (!(line.length - i >= 2 && line[i + 1] !== 0x0d && line[i + 1] !== 0x0a)) {
          return undefined;
        }
      } else if (byte !== 0x09 && byte !== 0x0d && byte !== 0x0a && byte < 0x80 && (byte < 0x20 || byte > 0x7e)) {
        return undefined;
      }
      output[length++] = byte;
    }
    if (badSoftBreak) return undefined;
  }
  return decodeUtf8AsGo(output, 0, length);
}

const CRLF = Buffer.from('\r\n');
const LF = Buffer.from('\n');

function hexValue(byte: number | undefined): number | undefined {
  if (byte === undefined) return undefined;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return undefined;
}

export interface MediaType {
  /** lowercased, e.g. `multipart/form-data` or `form-data` */
  type: string;
  /** parameter names lowercased; RFC 2231 (`name*=UTF-8''…`, `name*0=…`) decoded */
  params: Record<string, string>;
}

// Go's unicode.IsSpace, which strings.TrimSpace and TrimLeftFunc use in mime.ParseMediaType.
const LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const TRAILING_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;
const trimLeft = (text: string): string => text.replace(LEADING_SPACE, '');
const trimSpace = (text: string): string => trimLeft(text).replace(TRAILING_SPACE, '');
const TSPECIALS = '()<>@,;:\\"/[]?=';

function isTokenChar(char: string): boolean {
  const code = char.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !TSPECIALS.includes(char);
}

/** The longest token at the start of `text`, and what follows. */
function consumeToken(text: string): [string, string] {
  let i = 0;
  while (i < text.length && isTokenChar(text[i]!)) i++;
  return [text.slice(0, i), text.slice(i)];
}

/** A token or quoted-string; a backslash escapes only tspecials (else it is kept, as Go does for MSIE paths). */
function consumeValue(text: string): [string, string] {
  if (text === '') return ['', ''];
  if (text[0] !== '"') return consumeToken(text);
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') return [value, text.slice(i + 1)];
    if (char === '\\' && i + 1 < text.length && TSPECIALS.includes(text[i + 1]!)) {
      value += text[i + 1];
      i++;
      continue;
    }
    if (char === '\r' || char === '\n') return ['', text];
    value += char;
  }
  return ['', text];
}

function consumeMediaParam(text: string): { key: string; value: string; rest: string } | undefined {
  let rest = trimLeft(text);
  if (!rest.startsWith(';')) return undefined;
  rest = trimLeft(rest.slice(1));
  let key: string;
  [key, rest] = consumeToken(rest);
  key = key.toLowerCase();
  if (key === '') return undefined;
  rest = trimLeft(rest);
  if (!rest.startsWith('=')) return undefined;
  rest = trimLeft(rest.slice(1));
  const [value, after] = consumeValue(rest);
  if (value === '' && after === rest) return undefined;
  return { key, value, rest: after };
}

function isMediaType(text: string): boolean {
  const [type, rest] = consumeToken(text);
  if (type === '') return false;
  if (rest === '') return true;
  if (!rest.startsWith('/')) return false;
  const [subtype, after] = consumeToken(rest.slice(1));
  return subtype !== '' && after === '';
}

/** RFC 2231 percent-decoding to bytes; undefined on a bad escape. */
function percentBytes(text: string): Buffer | undefined {
  const input = Buffer.from(text, 'utf8');
  const output = Buffer.allocUnsafe(input.length);
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== 0x25) {
      output[length++] = input[i]!;
      continue;
    }
    const high = hexValue(input[i + 1]);
    const low = hexValue(input[i + 2]);
    if (high === undefined || low === undefined) return undefined;
    output[length++] = (high << 4) | low;
    i += 2;
  }
  return output.subarray(0, length);
}

/** `charset'language'value` with a UTF-8 or US-ASCII charset. */
function decodeExtended(text: string): Buffer | undefined {
  const first = text.indexOf("'");
  if (first === -1) return undefined;
  const second = text.indexOf("'", first + 1);
  if (second === -1) return undefined;
  const charset = text.slice(0, first).toLowerCase();
  if (charset !== 'us-ascii' && charset !== 'utf-8') return undefined;
  return percentBytes(text.slice(second + 1));
}

/**
 * Go's mime.ParseMediaType, which opa-envoy-plugin applies to the Content-Type and multipart reads for
 * Content-Disposition: undefined where Go fails (bad syntax, a parameter given twice with different values).
 */
export function parseMediaType(value: string): MediaType | undefined {
  const semicolon = value.indexOf(';');
  const base = semicolon === -1 ? value : value.slice(0, semicolon);
  const type = trimSpace(base.toLowerCase());
  if (!isMediaType(type)) return undefined;

  const plain = new Map<string, string>();
  const continued = new Map<string, Map<string, string>>();
  let rest = value.slice(base.length);
  for (;;) {
    rest = trimLeft(rest);
    if (rest === '') break;
    const param = consumeMediaParam(rest);
    if (param === undefined) {
      if (trimSpace(rest) === ';') break; // a trailing semicolon
      return undefined;
    }
    let target = plain;
    const star = param.key.indexOf('*');
    if (star !== -1) {
      const baseName = param.key.slice(0, star);
      target = continued.get(baseName) ?? new Map<string, string>();
      continued.set(baseName, target);
    }
    const seen = target.get(param.key);
    if (seen !== undefined && seen !== param.value) return undefined;
    target.set(param.key, param.value);
    rest = param.rest;
  }

  const params = Object.create(null) as Record<string, string>;
  for (const [key, item] of plain) params[key] = item;
  for (const [key, pieces] of continued) {
    const single = pieces.get(key + '*');
    if (single !== undefined) {
      const decoded = decodeExtended(single);
      if (decoded !== undefined) params[key] = decodeUtf8AsGo(decoded);
      continue;
    }
    const chunks: Buffer[] = [];
    let valid = false;
    for (let n = 0; ; n++) {
      const simple = pieces.get(`${key}*${n}`);
      if (simple !== undefined) {
        valid = true;
        chunks.push(Buffer.from(simple, 'utf8'));
        continue;
      }
      const encoded = pieces.get(`${key}*${n}*`);
      if (encoded === undefined) break;
      valid = true;
      const decoded = n === 0 ? decodeExtended(encoded) : percentBytes(encoded);
      if (decoded !== undefined) chunks.push(decoded);
    }
    if (valid) params[key] = decodeUtf8AsGo(Buffer.concat(chunks));
  }
  return { type, params };
}
