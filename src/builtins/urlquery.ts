// urlquery.* and uri.* (OPA's encoding.go and uri.go) on Go's net/url semantics (go-url.ts).
import { fail, isObject, stringArg, type BuiltinTable } from './builtin.js';
import { parseQuery, parseUrl, queryEscape, queryUnescape, splitHostPort } from './go-url.js';

export const urlqueryBuiltins: BuiltinTable = {
  'urlquery.encode': (_evaluation, value) => queryEscape(stringArg(value, 1)),
  'urlquery.decode': (_evaluation, value) => queryUnescape(stringArg(value, 1)),
  'urlquery.encode_object': (_evaluation, value) => {
    if (!isObject(value)) fail('operand 1 must be object');
    const pairs: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      const values = typeof item === 'string' ? [item] : Array.isArray(item) ? item : fail('values must be string, array[string], or set[string]');
      for (const v of values) {
        if (typeof v !== 'string') fail('values must be string, array[string], or set[string]');
        pairs.push(`${queryEscape(key)}=${queryEscape(v)}`);
      }
    }
    return pairs.join('&');
  },
  'urlquery.decode_object': (_evaluation, value) => parseQuery(stringArg(value, 1)),
  'uri.parse': (_evaluation, value) => {
    const url = parseUrl(stringArg(value, 1));
    const out: Record<string, string> = {};
    const { hostname, port } = splitHostPort(url.host);
    if (url.scheme !== '') out.scheme = url.scheme;
    if (hostname !== '') out.hostname = hostname;
    if (port !== '') out.port = port;
    if (url.path !== '') {
      out.path = url.path;
      out.raw_path = url.rawPath !== '' ? url.rawPath : url.path;
    }
    if (url.rawQuery !== '') out.raw_query = url.rawQuery;
    if (url.fragment !== '') out.fragment = url.fragment;
    return out;
  },
  'uri.is_valid': (_evaluation, value) => {
    if (typeof value !== 'string' || value === '') return false;
    try {
      parseUrl(value);
      return true;
    } catch {
      return false;
    }
  },
};
