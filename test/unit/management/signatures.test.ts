// src/management/signatures.ts against bundles signed by the pinned opa (opa build -b --signing-key): what
// OPA accepts verifies; unsigned, tampered, wrongly keyed or scoped bundles are refused, naming why.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBundleArchive } from '../../../src/check/bundle.js';
import { ConfigError } from '../../../src/errors.js';
import type { KeySetting, SigningSetting } from '../../../src/management/config-file.js';
import { canonicalJson, matchesPattern, verifyBundleSignatures } from '../../../src/management/signatures.js';
import { buildBundle } from '../../helpers/policies.js';

const dir = mkdtempSync(join(tmpdir(), 'meshwarden-signatures-'));

function keyPair(type: 'rsa' | 'ec'): { privateFile: string; publicPem: string } {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
      : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const privateFile = join(dir, `${type}-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(privateFile, pair.privateKey);
  return { privateFile, publicPem: pair.publicKey };
}

const RSA = keyPair('rsa');
const OTHER_RSA = keyPair('rsa');
const EC = keyPair('ec');
const FILES = {
  'authz.rego': 'package envoy.authz\ndefault allow := false\nallow if data.allowed[input.attributes.request.http.path]\n',
  'data.json': '{"allowed": {"/a": true}, "z": [1, 2.5, "x"]}',
};

function signing(keys: Record<string, KeySetting>, options: Partial<SigningSetting> = {}): SigningSetting {
  return { excludeFiles: [], keys: new Map(Object.entries(keys)), ...options };
}

async function problemOf(archive: Buffer, setting: SigningSetting): Promise<string> {
  try {
    await verifyBundleSignatures('bundle authz', readBundleArchive('bundle authz', archive), setting);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('; ');
    throw error;
  }
  return 'verified';
}

/** The archive unpacked, changed by `edit`, and packed again with the system's tar (what a tamperer would do). */
function repack(archive: Buffer, edit: (root: string) => void): Buffer {
  const work = mkdtempSync(join(dir, 'repack-'));
  writeFileSync(join(work, 'in.tar.gz'), archive);
  mkdirSync(join(work, 'root'));
  execFileSync('tar', ['-xzf', join(work, 'in.tar.gz'), '-C', join(work, 'root')]);
  edit(join(work, 'root'));
  execFileSync('tar', ['-czf', join(work, 'out.tar.gz'), '-C', join(work, 'root'), '.']);
  return readFileSync(join(work, 'out.tar.gz'));
}

describe('verifyBundleSignatures', () => {
  const signed = buildBundle({ files: FILES, signingKey: RSA.privateFile, revision: 'r1' });
  const rsaKey = { key: RSA.publicPem, algorithm: 'RS256' };

  it('verifies a bundle opa signed, with the configured keyid', async () => {
    expect(await problemOf(signed, signing({ k1: rsaKey }, { keyId: 'k1' }))).toBe('verified');
  });

  it('verifies ES256 signatures', async () => {
    const archive = buildBundle({ files: FILES, signingKey: EC.privateFile, signingAlgorithm: 'ES256' });
    expect(await problemOf(archive, signing({ ec: { key: EC.publicPem, algorithm: 'ES256' } }, { keyId: 'ec' }))).toBe('verified');
  });

  it('refuses an unsigned bundle when signing is configured', async () => {
    const unsigned = buildBundle({ files: FILES });
    expect(await problemOf(unsigned, signing({ k1: rsaKey }, { keyId: 'k1' }))).toContain('the bundle has no .signatures.json');
  });

  it('refuses a bundle whose data was changed after signing', async () => {
    const tampered = repack(signed, (root) => writeFileSync(join(root, 'data.json'), '{"allowed": {"/a": true, "/admin": true}, "z": [1, 2.5, "x"]}'));
    expect(await problemOf(tampered, signing({ k1: rsaKey }, { keyId: 'k1' }))).toMatch(/data\.json: digest mismatch/);
  });

  it('accepts data.json rewritten with other whitespace and key order (OPA hashes the JSON value)', async () => {
    const reformatted = repack(signed, (root) => writeFileSync(join(root, 'data.json'), '{ "z": [1, 2.5, "x"],\n  "allowed": { "/a": true } }\n'));
    expect(await problemOf(reformatted, signing({ k1: rsaKey }, { keyId: 'k1' }))).toBe('verified');
  });

  it('refuses a file added after signing, and a signed file removed', async () => {
    const added = repack(signed, (root) => writeFileSync(join(root, 'extra.rego'), 'package extra\n'));
    expect(await problemOf(added, signing({ k1: rsaKey }, { keyId: 'k1' }))).toContain('file extra.rego not included in bundle signature');
    const removed = repack(signed, (root) => execFileSync('rm', [join(root, 'authz.rego')]));
    expect(await problemOf(removed, signing({ k1: rsaKey }, { keyId: 'k1' }))).toContain('authz.rego specified in bundle signatures but not found');
  });

  it('skips the files exclude_files names', async () => {
    const added = repack(signed, (root) => writeFileSync(join(root, 'notes.txt'), 'unsigned notes'));
    expect(await problemOf(added, signing({ k1: rsaKey }, { keyId: 'k1', excludeFiles: ['*.txt'] }))).toBe('verified');
  });

  it('refuses a signature made with another key, and a key id it does not know', async () => {
    expect(await problemOf(signed, signing({ k1: { key: OTHER_RSA.publicPem, algorithm: 'RS256' } }, { keyId: 'k1' }))).toContain('does not verify with key k1');
    expect(await problemOf(signed, signing({ k1: rsaKey }))).toContain('verification key corresponding to ID default not found');
  });

  it("takes the key id from the JWT's kid when the configuration names none (opa build writes kid default)", async () => {
    expect(await problemOf(signed, signing({ default: rsaKey }))).toBe('verified');
  });

  it('checks the scope: the payload must carry the configured one', async () => {
    const claims = join(dir, 'claims.json');
    writeFileSync(claims, '{"scope": "write"}');
    const scoped = buildBundle({ files: FILES, signingKey: RSA.privateFile, extraArgs: ['--claims-file', claims] });
    expect(await problemOf(scoped, signing({ k1: rsaKey }, { keyId: 'k1', scope: 'write' }))).toBe('verified');
    expect(await problemOf(scoped, signing({ k1: { ...rsaKey, scope: 'write' } }, { keyId: 'k1' }))).toBe('verified');
    expect(await problemOf(scoped, signing({ k1: rsaKey }, { keyId: 'k1', scope: 'read' }))).toContain('scope mismatch');
    expect(await problemOf(signed, signing({ k1: rsaKey }, { keyId: 'k1', scope: 'write' }))).toContain('scope mismatch');
  });

  it('takes the key id from the payload when the configuration names none (OPA\'s deprecated keyid claim)', async () => {
    const claims = join(dir, 'keyid-claims.json');
    writeFileSync(claims, '{"keyid": "k1"}');
    const archive = buildBundle({ files: FILES, signingKey: RSA.privateFile, extraArgs: ['--claims-file', claims] });
    expect(await problemOf(archive, signing({ k1: rsaKey }))).toBe('verified');
  });
});

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: [true, null, 'x'] }, '{"a":[true,null,"x"],"b":1}'],
    [{ html: '<a&b>', line: 'a\u2028b' }, '{"html":"<a&b>","line":"a\\u2028b"}'],
    [{ nested: { z: {}, y: [] } }, '{"nested":{"y":[],"z":{}}}'],
  ])('%j → %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });
});

describe('matchesPattern (Go filepath.Match)', () => {
  it.each([
    ['*.txt', 'notes.txt', true],
    ['*.txt', 'dir/notes.txt', false],
    ['dir/*', 'dir/a.json', true],
    ['data.?son', 'data.json', true],
    ['[a-c].rego', 'b.rego', true],
    ['[^a-c].rego', 'b.rego', false],
    ['a.rego', 'a.rego', true],
    ['a.rego', 'xa.rego', false],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(matchesPattern(pattern, path)).toBe(expected);
  });
});
