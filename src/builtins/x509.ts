// crypto.x509.parse_rsa_private_key: the PEM (or base64 of PEM) private key as the JWK jwx writes.
import { createPrivateKey } from 'node:crypto';
import { fail, stringArg, type BuiltinTable } from './builtin.js';
import { decodeBase64Strict } from './encoding.js';

const BLOCK = /-----BEGIN (RSA PRIVATE KEY|PRIVATE KEY|EC PRIVATE KEY)-----\r?\n[\s\S]*?-----END \1-----/;

export const x509Builtins: BuiltinTable = {
  'crypto.x509.parse_rsa_private_key': (_evaluation, value) => {
    let text = stringArg(value, 1);
    if (text === '') fail('input PEM data was empty');
    if (!text.startsWith('-----BEGIN')) text = decodeBase64Strict(text, false).toString('latin1');
    const block = BLOCK.exec(text);
    if (block === null) return null;
    try {
      return createPrivateKey({ key: block[0], format: 'pem' }).export({ format: 'jwk' });
    } catch {
      fail('failed to parse the private key');
    }
  },
};
