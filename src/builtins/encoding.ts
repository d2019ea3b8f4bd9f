// hex.* and base64url.encode_no_pad (OPA's encoding.go), plus the strict base64 decoding Go's encoding/base64 does.
import { fail, stringArg, type BuiltinTable } from './builtin.js';

/**
 * Bytes as the Go string OPA holds; JSON (and so our caller) sees it as UTF-8 text, invalid sequences replaced
 * (Go's encoder replaces each invalid byte with U+FFFD; Node's decoder does the same for most inputs).
 */
export function bytesToString(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

/** Go's base64 decoding with padding (StdEncoding or URLEncoding): strict alphabet and padding; CR/LF ignored. */
export function decodeBase64Strict(text: string, urlSafe: boolean): Buffer {
  const s = text.replace(/[\r\n]/g, '');
  const body = s.replace(/={1,2}$/, '');
  const padding = s.length - body.length;
  if (!(urlSafe ? URL_SAFE : STANDARD).test(body)) fail('illegal base64 data');
  if (s.length % 4 !== 0) fail('illegal base64 data');
  if (padding > 0 && (body.length + padding) % 4 !== 0) fail('illegal base64 data');
  if (body.length % 4 === 1) fail('illegal base64 data');
  return Buffer.from(body, urlSafe ? 'base64url' : 'base64');
}

/** OPA's base64url.decode: padding optional (added per RFC 7515 appendix C), then strict. */
export function decodeBase64Url(text: string): Buffer {
  let s = text;
  if (!s.endsWith('=')) {
    const remainder = s.length % 4;
    if (remainder === 2) s += '==';
    else if (remainder === 3) s += '=';
    else if (remainder === 1) fail(`illegal base64url string: ${text}`);
  }
  return decodeBase64Strict(s, true);
}

export const encodingBuiltins: BuiltinTable = {
  'hex.encode': (_evaluation, value) => Buffer.from(stringArg(value, 1), 'utf8').toString('hex'),
  'hex.decode': (_evaluation, value) => {
    const text = stringArg(value, 1);
    if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) fail('encoding/hex: invalid byte');
    return bytesToString(Buffer.from(text, 'hex'));
  },
  'base64url.encode_no_pad': (_evaluation, value) => Buffer.from(stringArg(value, 1), 'utf8').toString('base64url'),
};
