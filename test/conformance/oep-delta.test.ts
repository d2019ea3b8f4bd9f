// Delta bundles, the differential: ONE config file and ONE Rego snapshot bundle on nginx, which serves the
// delta (OPA's patch.json) to a client whose Prefer header offers `modes=...delta`, as OPA's downloader asks.
// opa-envoy-plugin and meshwarden both ask that way, both apply the delta onto the snapshot and decide alike;
// both refuse a delta with other roots, a bad operation or a policy file, keeping the last good data; both take
// the next good delta onto that data.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxPath, startNginx, type Nginx } from '../helpers/nginx.js';
import { buildBundle } from '../helpers/policies.js';
import { decisionOf, startMeshwarden, startOpaEnvoyPlugin, waitUntil, type ManagedProcess } from './oep/management-processes.js';
import { findOpaEnvoyPlugin } from './oep/runner.js';

const ROOTS = ['envoy', 'acl'];

const SNAPSHOT = (signingKey?: string): Buffer =>
  buildBundle({
    ...(signingKey === undefined ? {} : { signingKey }),
    files: {
      '.manifest': JSON.stringify({ roots: ROOTS }),
      // A default must be a constant: the data revision goes in through the rules.
      'authz.rego': `package envoy.authz
permitted if startswith(input.attributes.request.http.path, data.acl.prefixes[_])
allow := {"allowed": true, "headers": {"x-acl": data.acl.revision}} if permitted
allow := {"allowed": false, "http_status": 403, "body": "denied", "headers": {"x-acl": data.acl.revision}} if not permitted
`,
      'acl/data.json': JSON.stringify({ revision: 'snapshot', prefixes: ['/public'] }),
    },
    revision: 'snapshot',
    target: 'rego',
    bundleMode: true,
  });

/** A delta bundle packed with tar, as a bundle server would build one: a .manifest and patch.json only. */
function deltaBundle(operations: unknown[], manifest: Record<string, unknown>, extra: Record<string, string> = {}): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-delta-'));
  const files = { '.manifest': JSON.stringify(manifest), 'patch.json': JSON.stringify({ data: operations }), ...extra };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, 'root', name, '..'), { recursive: true });
    writeFileSync(join(dir, 'root', name), text);
  }
  execFileSync('tar', ['-czf', join(dir, 'delta.tar.gz'), '-C', join(dir, 'root'), '.']);
  return readFileSync(join(dir, 'delta.tar.gz'));
}

const CONFIG = `services:
  bundle-server:
    url: \${BUNDLE_SERVER_URL}
bundles:
  authz:
    service: bundle-server
    resource: deltas/authz.tar.gz
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 1
plugins:
  envoy_ext_authz_grpc:
    addr: \${EXT_AUTHZ_ADDR}
    path: envoy/authz/allow
`;

const REQUESTS = [
  { method: 'GET', path: '/public/index.html' },
  { method: 'GET', path: '/reports/2026' },
  { method: 'GET', path: '/admin' },
];

const binary = findOpaEnvoyPlugin();
const nginxBinary = nginxPath();

if (binary === undefined || nginxBinary === undefined) {
  console.warn(`\n!!! SKIPPED: the delta bundle differential: ${binary === undefined ? 'opa-envoy-plugin' : 'nginx'} is not available.\n`);
  describe('opa-envoy-plugin and meshwarden on delta bundles', () => {
    it.skip('SKIPPED: opa-envoy-plugin or nginx absent', () => {});
  });
} else {
  describe('opa-envoy-plugin and meshwarden on one snapshot and its delta bundles from nginx', () => {
    let nginx: Nginx;
    let oep: ManagedProcess;
    let meshwarden: ManagedProcess & { adminUrl: string };

    const agree = async (): Promise<string> => {
      const seen: string[] = [];
      for (const request of REQUESTS) {
        const [fromOep, fromMeshwarden] = await Promise.all([decisionOf(oep.client, request), decisionOf(meshwarden.client, request)]);
        expect({ request, decision: fromMeshwarden }).toEqual({ request, decision: fromOep });
        seen.push(String((fromOep['okHeaders'] as Record<string, string> | undefined)?.['x-acl'] ?? (fromOep['deniedHeaders'] as Record<string, string> | undefined)?.['x-acl']));
      }
      return [...new Set(seen)].join(',');
    };
    const aclRevisionOf = async (process: ManagedProcess): Promise<string> => {
      const decision = await decisionOf(process.client, REQUESTS[0]!);
      return String((decision['okHeaders'] as Record<string, string> | undefined)?.['x-acl'] ?? (decision['deniedHeaders'] as Record<string, string> | undefined)?.['x-acl']);
    };
    const bothOn = (revision: string) => async (): Promise<boolean> => (await aclRevisionOf(oep)) === revision && (await aclRevisionOf(meshwarden)) === revision;
    const rejectedByMeshwarden = async (): Promise<number> => Number(/meshwarden_bundle_polls_total\{bundle="authz",result="rejected"\} (\d+)/.exec(await (await fetch(`${meshwarden.adminUrl}/metrics`)).text())?.[1] ?? 0);

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'meshwarden-oep-delta-'));
      const config = join(dir, 'config.yaml');
      writeFileSync(config, CONFIG);
      nginx = await startNginx();
      nginx.publish('deltas/authz.tar.gz', SNAPSHOT());
      oep = await startOpaEnvoyPlugin(binary, config, { BUNDLE_SERVER_URL: nginx.url }, 'info');
      meshwarden = await startMeshwarden(config, { BUNDLE_SERVER_URL: nginx.url }, 'info');
    }, 120_000);

    afterAll(async () => {
      await oep?.stop();
      await meshwarden?.stop();
      await nginx?.stop();
    });

    it('both start on the snapshot, asking as OPA asks: Prefer: modes=snapshot,delta', async () => {
      expect(await agree()).toBe('snapshot');
      const prefers = new Set(nginx.preferLog().map((line) => /"(.*)"$/.exec(line)![1]));
      // One Prefer from both clients: nothing else was sent (each client sends on every poll).
      expect([...prefers]).toEqual(['modes=snapshot,delta']);
    });

    it('both apply a delta onto the snapshot and decide alike', async () => {
      nginx.publish(
        'delta/deltas/authz.tar.gz',
        deltaBundle(
          [
            { op: 'upsert', path: '/acl/prefixes/-', value: '/reports' },
            { op: 'replace', path: '/acl/revision', value: 'delta-1' },
          ],
          { roots: ROOTS, revision: 'delta-1' },
        ),
      );
      await waitUntil(bothOn('delta-1'), 15_000, 'both servers did not apply delta-1 within 15 s');
      expect(await agree()).toBe('delta-1');
      expect(await decisionOf(meshwarden.client, REQUESTS[1]!)).toMatchObject({ code: 0 });
      expect(nginx.preferLog().some((line) => line.startsWith('200 /delta/deltas/authz.tar.gz'))).toBe(true);
    });

    it('both refuse a delta with other roots, a bad operation, a policy file or a patch that cannot apply, keeping the last good data', async () => {
      const bad: [string, Buffer][] = [
        ['other roots', deltaBundle([{ op: 'replace', path: '/acl/revision', value: 'bad-roots' }], { roots: ['acl'], revision: 'bad-roots' })],
        ['a bad operation', deltaBundle([{ op: 'move', path: '/acl/revision', value: 'bad-op' }], { roots: ROOTS, revision: 'bad-op' })],
        ['a policy file', deltaBundle([{ op: 'replace', path: '/acl/revision', value: 'bad-policy' }], { roots: ROOTS, revision: 'bad-policy' }, { 'envoy/extra.rego': 'package envoy.extra\nx := 1\n' })],
        ['a path that does not exist', deltaBundle([{ op: 'remove', path: '/acl/missing' }, { op: 'replace', path: '/acl/revision', value: 'bad-path' }], { roots: ROOTS, revision: 'bad-path' })],
      ];
      for (const [what, archive] of bad) {
        const rejected = await rejectedByMeshwarden();
        nginx.publish('delta/deltas/authz.tar.gz', archive);
        await waitUntil(async () => (await rejectedByMeshwarden()) > rejected, 10_000, `meshwarden did not reject the delta with ${what}`);
        // One more polling window so that opa-envoy-plugin has had the bad delta too.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect({ what, acl: await agree() }).toEqual({ what, acl: 'delta-1' });
      }
      expect(oep.output()).toMatch(/delta bundle 'authz' has wasm resolvers or manifest roots that are different/);
      expect(oep.output()).toMatch(/bad patch operation: move/);
      expect(oep.output()).toMatch(/delta bundle expected to contain only patch file but policy files found/);
    });

    it('both take the next good delta onto the last good data', async () => {
      nginx.publish('delta/deltas/authz.tar.gz', deltaBundle([{ op: 'remove', path: '/acl/prefixes/0' }, { op: 'replace', path: '/acl/revision', value: 'delta-2' }], { roots: ROOTS, revision: 'delta-2' }));
      await waitUntil(bothOn('delta-2'), 15_000, 'both servers did not apply delta-2 within 15 s');
      expect(await agree()).toBe('delta-2');
      // /public was removed by delta-2, /reports was added by delta-1: built on delta-1, not on the snapshot.
      expect(await decisionOf(meshwarden.client, REQUESTS[0]!)).toMatchObject({ code: 7 });
      expect(await decisionOf(meshwarden.client, REQUESTS[1]!)).toMatchObject({ code: 0 });
    });
  });

  // README "What differs": OPA skips signature verification for deltas; meshwarden refuses them where signing is configured.
  describe('a delta where signing is configured (a listed difference)', () => {
    let nginx: Nginx;
    let oep: ManagedProcess;
    let meshwarden: ManagedProcess;

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'meshwarden-oep-delta-signed-'));
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      writeFileSync(join(dir, 'signing.pem'), pair.privateKey);
      const indented = pair.publicKey.trim().split('\n').map((line) => `        ${line}`).join('\n');
      const config = join(dir, 'config.yaml');
      writeFileSync(config, CONFIG.replace('    polling:', '    signing:\n      keyid: release\n    polling:') + `keys:\n  release:\n    algorithm: RS256\n    key: |\n${indented}\n`);
      nginx = await startNginx();
      nginx.publish('deltas/authz.tar.gz', SNAPSHOT(join(dir, 'signing.pem')));
      oep = await startOpaEnvoyPlugin(binary, config, { BUNDLE_SERVER_URL: nginx.url });
      meshwarden = await startMeshwarden(config, { BUNDLE_SERVER_URL: nginx.url }, 'info');
    }, 120_000);

    afterAll(async () => {
      await oep?.stop();
      await meshwarden?.stop();
      await nginx?.stop();
    });

    it('opa-envoy-plugin applies the unsigned delta; meshwarden refuses it and keeps the signed data', async () => {
      expect(await aclOf(oep)).toBe('snapshot');
      expect(await aclOf(meshwarden)).toBe('snapshot');
      nginx.publish('delta/deltas/authz.tar.gz', deltaBundle([{ op: 'replace', path: '/acl/revision', value: 'unsigned-delta' }], { roots: ROOTS, revision: 'unsigned-delta' }));
      await waitUntil(async () => (await aclOf(oep)) === 'unsigned-delta', 15_000, 'opa-envoy-plugin did not apply the unsigned delta');
      await waitUntil(() => meshwarden.output().includes('a delta bundle carries no verified signature'), 10_000, `meshwarden did not refuse the delta: ${meshwarden.output().slice(-2000)}`);
      expect(await aclOf(meshwarden)).toBe('snapshot');
    });
  });
}

/** The data revision a decision carries in its x-acl header. */
async function aclOf(process: ManagedProcess): Promise<string> {
  const decision = await decisionOf(process.client, REQUESTS[0]!);
  return String((decision['okHeaders'] as Record<string, string> | undefined)?.['x-acl'] ?? (decision['deniedHeaders'] as Record<string, string> | undefined)?.['x-acl']);
}
