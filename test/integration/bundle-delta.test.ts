// Delta bundles from nginx into meshwarden (the differential with opa-envoy-plugin is
// test/conformance/oep-delta.test.ts): the bundle's state says delta once one is activated, and where signing
// is configured a delta is refused (OPA would apply it unverified) while the signed snapshot keeps serving.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleArchive } from '../../src/check/bundle.js';
import { nginxPath, startNginx, type Nginx } from '../helpers/nginx.js';
import { buildBundle } from '../helpers/policies.js';
import { allowed, waitFor } from '../helpers/bundle-polling.js';
import { startTestServer } from '../helpers/server.js';

const ROOTS = ['envoy', 'acl'];
const FILES = {
  '.manifest': JSON.stringify({ roots: ROOTS }),
  'authz.rego': 'package envoy.authz\ndefault allow := false\nallow if startswith(input.attributes.request.http.path, data.acl.prefixes[_])\n',
  'acl/data.json': JSON.stringify({ prefixes: ['/public'] }),
};

/** A delta over `snapshot`: the same roots and wasm resolvers as its .manifest (as OPA requires), a patch.json. */
function deltaBundle(snapshot: Buffer, operations: unknown[]): Buffer {
  const { wasm } = JSON.parse(readBundleArchive('snapshot', snapshot).get('/.manifest')!.toString('utf8')) as { wasm?: unknown };
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-delta-'));
  mkdirSync(join(dir, 'root'));
  writeFileSync(join(dir, 'root', '.manifest'), JSON.stringify({ roots: ROOTS, revision: 'delta-1', ...(wasm === undefined ? {} : { wasm }) }));
  writeFileSync(join(dir, 'root', 'patch.json'), JSON.stringify({ data: operations }));
  execFileSync('tar', ['-czf', join(dir, 'delta.tar.gz'), '-C', join(dir, 'root'), '.']);
  return readFileSync(join(dir, 'delta.tar.gz'));
}

const NGINX_AVAILABLE = nginxPath() !== undefined;
if (!NGINX_AVAILABLE) console.warn('\n!!! SKIPPED: %s needs nginx (node scripts/tools.mjs nginx, as root)\n', import.meta.filename);

describe.runIf(NGINX_AVAILABLE)('delta bundles from nginx', () => {
  let nginx: Nginx;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshwarden-bundle-delta-'));
    nginx = await startNginx();
  });

  afterAll(async () => {
    await nginx?.stop();
  });

  const config = (name: string, resource: string, signing = ''): string => {
    const file = join(dir, name);
    writeFileSync(
      file,
      `services:\n  bundle-server:\n    url: ${nginx.url}\nbundles:\n  authz:\n    resource: ${resource}\n${signing}    polling: { min_delay_seconds: 1, max_delay_seconds: 1 }\nplugins:\n  envoy_ext_authz_grpc:\n    addr: 127.0.0.1:0\n`,
    );
    return file;
  };

  it('applies a delta onto the snapshot; the bundle is then a delta with its revision', async () => {
    const snapshot = buildBundle({ files: FILES, revision: 'snapshot', bundleMode: true });
    nginx.publish('deltas/plain.tar.gz', snapshot);
    const server = await startTestServer(['--config-file', config('plain.yaml', 'deltas/plain.tar.gz')]);
    try {
      await waitFor(() => server.serving.bundles[0]!.loaded, 10_000);
      expect(server.serving.bundles[0]!.state).toMatchObject({ activeRevision: 'snapshot', type: 'snapshot' });
      expect(await allowed(server, '/reports')).toBe(false);
      // A delta without the snapshot's wasm resolvers is refused (OPA's rule); with them it applies.
      nginx.publish('delta/deltas/plain.tar.gz', deltaBundle(buildBundle({ files: FILES, target: 'rego', bundleMode: true }), [{ op: 'upsert', path: '/acl/prefixes/-', value: '/reports' }]));
      await waitFor(() => server.logs.some((line) => String(line['error']).includes('delta bundle has wasm resolvers or manifest roots that are different')), 5_000);
      expect(await allowed(server, '/reports')).toBe(false);
      nginx.publish('delta/deltas/plain.tar.gz', deltaBundle(snapshot, [{ op: 'upsert', path: '/acl/prefixes/-', value: '/reports' }]));
      await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 'delta-1', 5_000);
      expect(server.serving.bundles[0]!.state.type).toBe('delta');
      expect(await allowed(server, '/reports')).toBe(true);
      expect(await allowed(server, '/public')).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('refuses a delta where signing is configured, and the signed snapshot keeps serving', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    writeFileSync(join(dir, 'signing.pem'), pair.privateKey);
    const signed = buildBundle({ files: FILES, revision: 'signed', signingKey: join(dir, 'signing.pem') });
    nginx.publish('deltas/signed.tar.gz', signed);
    const indented = pair.publicKey.trim().split('\n').map((line) => `        ${line}`).join('\n');
    const file = config('signed.yaml', 'deltas/signed.tar.gz', '    signing: { keyid: release }\n');
    writeFileSync(file, `${readFileSync(file, 'utf8')}keys:\n  release:\n    algorithm: RS256\n    key: |\n${indented}\n`);
    const server = await startTestServer(['--config-file', file]);
    try {
      await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 'signed', 10_000);
      nginx.publish('delta/deltas/signed.tar.gz', deltaBundle(signed, [{ op: 'upsert', path: '/acl/prefixes/-', value: '/reports' }]));
      await waitFor(() => server.logs.some((line) => String(line['error']).includes('a delta bundle carries no verified signature')), 5_000);
      expect(server.serving.bundles[0]!.state).toMatchObject({ activeRevision: 'signed', type: 'snapshot', code: 'bundle_error' });
      expect(await allowed(server, '/reports')).toBe(false);
      expect(await allowed(server, '/public')).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
