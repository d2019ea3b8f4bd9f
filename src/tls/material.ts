// A TLS key pair (and client CA) read from PEM files and checked before use: a pair that does not load, does not
// match, or has expired is refused here, so a listener never swaps in what it could not serve with.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { describeError } from '../errors.js';

export interface TlsFiles {
  cert: string;
  key: string;
  /** The CA bundle client certificates must chain to (mutual TLS), if any. */
  clientCa?: string | undefined;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
  /** The server certificate's expiry. */
  readonly notAfter: Date;
}

/** Why a pair cannot be used, naming the file; the message is for the log and the start-up error. */
export class TlsMaterialError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsMaterialError';
  }
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TlsMaterialError(`${what} ${path}: cannot be read: ${describeError(error)}`, { cause: error });
  }
}

/** Reads and checks the files; throws TlsMaterialError. `now` is for the expiry check. */
export function readTlsMaterial(files: TlsFiles, now: Date = new Date()): TlsMaterial {
  const cert = read(files.cert, 'TLS certificate');
  const key = read(files.key, 'TLS key');
  const clientCa = files.clientCa === undefined ? undefined : read(files.clientCa, 'TLS client CA');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new TlsMaterialError(`TLS certificate ${files.cert}: not a PEM certificate: ${describeError(error)}`, { cause: error });
  }
  const notAfter = new Date(leaf.validTo);
  if (!(notAfter.getTime() > now.getTime())) throw new TlsMaterialError(`TLS certificate ${files.cert}: expired on ${notAfter.toISOString()}`);
  if (clientCa !== undefined) {
    try {
      new X509Certificate(clientCa);
    } catch (error) {
      throw new TlsMaterialError(`TLS client CA ${files.clientCa}: not a PEM certificate: ${describeError(error)}`, { cause: error });
    }
  }
  try {
    // Node checks that the key is the certificate's (ERR_OSSL_..._KEY_VALUES_MISMATCH) and that the PEM parses.
    createSecureContext({ cert, key, ...(clientCa === undefined ? {} : { ca: clientCa }) });
  } catch (error) {
    throw new TlsMaterialError(`TLS key ${files.key} with certificate ${files.cert}: ${describeError(error)}`, { cause: error });
  }
  return Object.freeze({ cert, key, clientCa, notAfter });
}
