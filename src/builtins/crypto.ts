// crypto.md5/sha1/sha256 and crypto.hmac.*: node:crypto digests of the string's UTF-8 bytes, as hex.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { stringArg, type BuiltinTable } from './builtin.js';

const digest = (algorithm: string) => (_evaluation: unknown, value: unknown) =>
  createHash(algorithm).update(stringArg(value, 1), 'utf8').digest('hex');

const hmac = (algorithm: string) => (_evaluation: unknown, message: unknown, key: unknown) =>
  createHmac(algorithm, Buffer.from(stringArg(key, 2), 'utf8')).update(stringArg(message, 1), 'utf8').digest('hex');

export const cryptoBuiltins: BuiltinTable = {
  'crypto.md5': digest('md5'),
  'crypto.sha1': digest('sha1'),
  'crypto.sha256': digest('sha256'),
  'crypto.hmac.md5': hmac('md5'),
  'crypto.hmac.sha1': hmac('sha1'),
  'crypto.hmac.sha256': hmac('sha256'),
  'crypto.hmac.sha512': hmac('sha512'),
  // hmac.Equal: constant time for equal lengths; different lengths are simply unequal.
  'crypto.hmac.equal': (_evaluation, first, second) => {
    const a = Buffer.from(stringArg(first, 1), 'utf8');
    const b = Buffer.from(stringArg(second, 2), 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  },
};
