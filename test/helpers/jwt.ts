// Real signed tokens for tests (jose SignJWT, generateKeyPair), JWKS / SPIFFE bundle files, and a local JWKS
// server on 127.0.0.1:0 that can answer, refuse, or accept connections and never answer.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { makeTempDir } from './temp.js';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function createSigningKey(kid: string, alg = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid } };
}

export function jwksOf(...keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => ({ ...key.publicJwk, use: 'sig', alg: key.alg })) };
}

/** A SPIFFE bundle (JWKS with `use: jwt-svid` keys and spiffe_sequence), as SPIRE publishes it. */
export function spiffeBundleOf(...keys: SigningKey[]): Record<string, unknown> {
  return { spiffe_sequence: 1, spiffe_refresh_hint: 300, keys: keys.map((key) => ({ ...key.publicJwk, use: 'jwt-svid' })) };
}

const FILES = makeTempDir('meshwarden-jwt-');
let fileCount = 0;

export function writeJsonFile(document: unknown, name = `keys-${++fileCount}.json`): string {
  const path = join(FILES, name);
  writeFileSync(path, JSON.stringify(document));
  return path;
}

export function writeTextFile(text: string, name: string): string {
  const path = join(FILES, name);
  writeFileSync(path, text);
  return path;
}

export interface SignOptions {
  /** Extra or replaced protected header parameters; `kid: undefined` drops the kid. */
  header?: Record<string, unknown>;
  /** Seconds from now; null leaves exp out. Default 300. */
  expiresIn?: number | null;
}

export async function signToken(key: SigningKey, claims: JWTPayload, options: SignOptions = {}): Promise<string> {
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, ...options.header };
  for (const name of Object.keys(header)) if (header[name] === undefined) delete header[name];
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = options.expiresIn === undefined ? 300 : options.expiresIn;
  const payload: JWTPayload = { iat: now, ...(expiresIn === null ? {} : { exp: now + expiresIn }), ...claims };
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsecured token (`alg: none`), which no verifier may accept. */
export function unsecuredToken(claims: JWTPayload, kid = 'k1'): string {
  return `${base64url({ alg: 'none', kid })}.${base64url({ exp: Math.floor(Date.now() / 1000) + 300, ...claims })}.`;
}

/** An HS256 token signed with a shared secret (the public JWK's text is a classic confusion attempt). */
export async function hmacToken(claims: JWTPayload, kid = 'k1'): Promise<string> {
  return new SignJWT({ exp: Math.floor(Date.now() / 1000) + 300, ...claims })
    .setProtectedHeader({ alg: 'HS256', kid })
    .sign(new TextEncoder().encode('a shared secret that is long enough for HS256'));
}

export interface JwksServer {
  url: string;
  requests: number;
  /** Accept connections but never answer. */
  hang(): void;
  close(): Promise<void>;
}

export async function startJwksServer(document: unknown, path = '/jwks.json'): Promise<JwksServer> {
  let hanging = false;
  const state = { requests: 0 };
  const server: Server = createServer((request, response) => {
    state.requests++;
    if (hanging) return;
    if (request.url !== path) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    get requests() {
      return state.requests;
    },
    hang() {
      hanging = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
