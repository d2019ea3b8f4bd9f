// Go's net/url as OPA's uri.* and urlquery.* use it: Parse, QueryEscape/QueryUnescape, ParseQuery, Values.Encode.
import { fail } from './builtin.js';
import { bytesToString } from './encoding.js';

type Mode = 'path' | 'host' | 'zone' | 'userinfo' | 'query' | 'fragment';

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** url.shouldEscape. */
function shouldEscape(c: string, mode: Mode): boolean {
  if (/^[a-zA-Z0-9]$/.test(c)) return false;
  if (mode === 'host' || mode === 'zone') {
    if ("!$&'()*+,;=:[]<>\"".includes(c)) return false;
  }
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) {
    switch (mode) {
      case 'path':
        return c === '?';
      case 'userinfo':
        return c === '@' || c === '/' || c === '?' || c === ':';
      case 'query':
        return true;
      case 'fragment':
        return false;
      default:
    }
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

/** url.unescape: %XX sequences (and '+' as space in query mode) to bytes, as a Go string. */
function unescape(s: string, mode: Mode): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = String.fromCharCode(raw[i]!);
    if (c === '%') {
      const h1 = String.fromCharCode(raw[i + 1] ?? 0);
      const h2 = String.fromCharCode(raw[i + 2] ?? 0);
      if (i + 2 >= raw.length || !isHex(h1) || !isHex(h2)) fail('invalid URL escape');
      const value = parseInt(h1 + h2, 16);
      if (mode === 'host' && value < 0x80 && `${h1}${h2}` !== '25' && shouldEscape(String.fromCharCode(value), mode)) fail('invalid URL escape');
      bytes.push(value);
      i += 2;
    } else if (c === '+' && mode === 'query') {
      bytes.push(0x20);
    } else {
      if ((mode === 'host' || mode === 'zone') && raw[i]! < 0x80 && shouldEscape(c, mode)) fail(`invalid character ${JSON.stringify(c)} in host name`);
      bytes.push(raw[i]!);
    }
  }
  return bytesToString(Uint8Array.from(bytes));
}

/** url.escape. */
function escape(s: string, mode: Mode): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && !shouldEscape(c, mode)) out += c;
    else if (c === ' ' && mode === 'query') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export const queryEscape = (s: string): string => escape(s, 'query');
export const queryUnescape = (s: string): string => unescape(s, 'query');

const validOptionalPort = (port: string): boolean => port === '' || /^:[0-9]*$/.test(port);

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) fail("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) fail(`invalid port ${JSON.stringify(colonPort)} after host`);
    const zone = host.slice(0, close).indexOf('%25');
    if (zone >= 0) {
      return unescape(host.slice(0, zone), 'host') + unescape(host.slice(zone, close), 'zone') + unescape(host.slice(close), 'host');
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      const colonPort = host.slice(colon);
      if (!validOptionalPort(colonPort)) fail(`invalid port ${JSON.stringify(colonPort)} after host`);
    }
  }
  return unescape(host, 'host');
}

const USERINFO = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

export interface GoUrl {
  scheme: string;
  opaque: string;
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
  fragment: string;
}

/** url.Parse. */
export function parseUrl(rawUrl: string): GoUrl {
  const hash = rawUrl.indexOf('#');
  const main = hash < 0 ? rawUrl : rawUrl.slice(0, hash);
  const fragmentText = hash < 0 ? '' : rawUrl.slice(hash + 1);
  if ([...main].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) fail('net/url: invalid control character in URL');
  const url: GoUrl = { scheme: '', opaque: '', host: '', path: '', rawPath: '', rawQuery: '', fragment: '' };
  if (main === '*') {
    url.path = '*';
  } else {
    let rest = main;
    const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(main);
    if (schemeMatch !== null) {
      url.scheme = schemeMatch[1]!.toLowerCase();
      rest = main.slice(schemeMatch[0].length);
    } else if (main.startsWith(':')) {
      fail('missing protocol scheme');
    }
    if (rest.endsWith('?') && [...rest].filter((c) => c === '?').length === 1) {
      rest = rest.slice(0, -1);
    } else {
      const question = rest.indexOf('?');
      if (question >= 0) [rest, url.rawQuery] = [rest.slice(0, question), rest.slice(question + 1)];
    }
    let opaque = false;
    if (!rest.startsWith('/')) {
      if (url.scheme !== '') {
        url.opaque = rest;
        opaque = true;
      } else if ((rest.split('/')[0] ?? '').includes(':')) {
        fail('first path segment in URL cannot contain colon');
      }
    }
    if (!opaque) {
      if ((url.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
        let authority = rest.slice(2);
        rest = '';
        const slash = authority.indexOf('/');
        if (slash >= 0) [authority, rest] = [authority.slice(0, slash), authority.slice(slash)];
        const at = authority.lastIndexOf('@');
        if (at >= 0) {
          const userinfo = authority.slice(0, at);
          if (!USERINFO.test(userinfo)) fail('net/url: invalid userinfo');
          const colon = userinfo.indexOf(':');
          unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'userinfo');
          if (colon >= 0) unescape(userinfo.slice(colon + 1), 'userinfo');
        }
        url.host = parseHost(at < 0 ? authority : authority.slice(at + 1));
      }
      url.path = unescape(rest, 'path');
      url.rawPath = escape(url.path, 'path') === rest ? '' : rest;
    }
  }
  if (fragmentText !== '') url.fragment = unescape(fragmentText, 'fragment');
  return url;
}

/** URL.Hostname and URL.Port. */
export function splitHostPort(host: string): { hostname: string; port: string } {
  let hostname = host;
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && validOptionalPort(host.slice(colon))) [hostname, port] = [host.slice(0, colon), host.slice(colon + 1)];
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  return { hostname, port };
}

/** url.ParseQuery: every pair parsed; the first error (a semicolon, a bad escape) is reported after. */
export function parseQuery(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let firstError: string | undefined;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) {
      firstError ??= 'invalid semicolon separator in query';
      continue;
    }
    const equals = pair.indexOf('=');
    const rawKey = equals < 0 ? pair : pair.slice(0, equals);
    const rawValue = equals < 0 ? '' : pair.slice(equals + 1);
    let key: string;
    let value: string;
    try {
      key = queryUnescape(rawKey);
      value = queryUnescape(rawValue);
    } catch (error) {
      firstError ??= (error as Error).message;
      continue;
    }
    (out[key] ??= []).push(value);
  }
  if (firstError !== undefined) fail(firstError);
  return out;
}

/** url.validEncoded for the path: every byte is one Go would leave as it is, a sub-delimiter or a '%'. */
function validEncodedPath(s: string): boolean {
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if ("!$&'()*+,;=:@[]%".includes(c)) continue;
    if (byte >= 0x80 || shouldEscape(c, 'path')) return false;
  }
  return true;
}

/** URL.EscapedPath: the path as it was written when that is a valid encoding of it, else Go's escaping of it. */
export function escapedPath(url: GoUrl): string {
  if (url.rawPath !== '' && validEncodedPath(url.rawPath)) {
    try {
      if (unescape(url.rawPath, 'path') === url.path) return url.rawPath;
    } catch {
      // an invalid escape: fall through to Go's escaping of the decoded path
    }
  }
  if (url.path === '*') return '*';
  return escape(url.path, 'path');
}
