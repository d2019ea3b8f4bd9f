// Pure: a multipart/form-data body → parsed_body JSON text, as opa-envoy-plugin builds it:
// each named part appended to an array under its name; JSON parts parsed, the rest kept as strings.
import { CheckFailure } from './errors.js';

function fail(message: string): never {
  throw new CheckFailure('request_parse_error', `invalid multipart body: ${message}`);
}

/** Returns the JSON text of `{name: [value, …]}`; throws request_parse_error on a malformed body. */
export function parseMultipart(body: string, boundary: string): string {
  const delimiter = '--' + boundary;
  const parts = new Map<string, string[]>();

  // The first delimiter may follow a preamble, but must start a line.
  let at = body.startsWith(delimiter) ? 0 : findDelimiterLine(body, delimiter, 0);
  if (at === -1) fail('no opening boundary');
  at += delimiter.length;

  for (;;) {
    if (body.startsWith('--', at)) break; // closing delimiter
    at = skipLineEnd(body, at);
    const headerEnd = findHeaderEnd(body, at);
    if (headerEnd === -1) fail('unterminated part headers');
    const headers = parsePartHeaders(body.slice(at, headerEnd.start));
    at = headerEnd.end;

    const next = findDelimiterLine(body, delimiter, at);
    if (next === -1) fail('missing closing boundary');
    const contentEnd = body[next - 1] === '\n' ? (body[next - 2] === '\r' ? next - 2 : next - 1) : next;
    const content = body.slice(at, contentEnd);
    at = next + delimiter.length;

    const name = formName(headers['content-disposition']);
    if (name === undefined) continue;
    const contentType = headers['content-type'];
    let valueJson: string;
    if (contentType !== undefined && contentType.includes('application/json')) {
      try {
        JSON.parse(content);
      } catch (error) {
        fail(`part ${JSON.stringify(name)}: ${(error as Error).message}`);
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

/** Index of a delimiter that starts a line (after CRLF or LF) at or after `from`, or -1. */
function findDelimiterLine(body: string, delimiter: string, from: number): number {
  let at = from;
  for (;;) {
    const found = body.indexOf(delimiter, at);
    if (found === -1) return -1;
    if (found === 0 || body[found - 1] === '\n') return found;
    at = found + 1;
  }
}

/** Skips optional transport padding and the line end after a delimiter. */
function skipLineEnd(body: string, from: number): number {
  let at = from;
  while (body[at] === ' ' || body[at] === '\t') at++;
  if (body.startsWith('\r\n', at)) return at + 2;
  if (body[at] === '\n') return at + 1;
  fail('boundary not followed by a line end');
}

function findHeaderEnd(body: string, from: number): { start: number; end: number } | -1 {
  if (body.startsWith('\r\n', from)) return { start: from, end: from + 2 };
  if (body[from] === '\n') return { start: from, end: from + 1 };
  const crlf = body.indexOf('\r\n\r\n', from);
  const lf = body.indexOf('\n\n', from);
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { start: crlf, end: crlf + 4 };
  if (lf !== -1) return { start: lf, end: lf + 2 };
  return -1;
}

function parsePartHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of block.split(/\r?\n/)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) fail('malformed part header');
    const key = line.slice(0, colon).trim().toLowerCase();
    if (headers[key] === undefined) headers[key] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The `name` of a `form-data` Content-Disposition, as Go's Part.FormName; undefined when unnamed. */
function formName(disposition: string | undefined): string | undefined {
  if (disposition === undefined) return undefined;
  const semicolon = disposition.indexOf(';');
  const type = (semicolon === -1 ? disposition : disposition.slice(0, semicolon)).trim().toLowerCase();
  if (type !== 'form-data') return undefined;
  const name = parseHeaderParams(disposition)?.['name'];
  return name === undefined || name === '' ? undefined : name;
}

/** Parameters of a header value such as `form-data; name="a"` (keys lowercased); undefined if malformed. */
export function parseHeaderParams(value: string): Record<string, string> | undefined {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = value.indexOf(';');
  if (i === -1) return params;
  const length = value.length;
  while (i < length) {
    i++; // past ';'
    while (i < length && (value[i] === ' ' || value[i] === '\t')) i++;
    if (i >= length) break;
    const eq = value.indexOf('=', i);
    if (eq === -1) return undefined;
    const key = value.slice(i, eq).trim().toLowerCase();
    if (key === '') return undefined;
    i = eq + 1;
    let parsed = '';
    if (value[i] === '"') {
      i++;
      let closed = false;
      while (i < length) {
        const ch = value[i]!;
        if (ch === '\\' && i + 1 < length) {
          parsed += value[i + 1];
          i += 2;
        } else if (ch === '"') {
          closed = true;
          i++;
          break;
        } else {
          parsed += ch;
          i++;
        }
      }
      if (!closed) return undefined;
      while (i < length && value[i] !== ';') {
        if (value[i] !== ' ' && value[i] !== '\t') return undefined;
        i++;
      }
    } else {
      const end = value.indexOf(';', i);
      parsed = (end === -1 ? value.slice(i) : value.slice(i, end)).trim();
      i = end === -1 ? length : end;
    }
    params[key] = parsed;
  }
  return params;
}
