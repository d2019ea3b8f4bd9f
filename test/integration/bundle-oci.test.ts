// Bundles from a real OCI registry (go-containerregistry's registry on 127.0.0.1), pushed with the real oras as
// OPA's docs push them, through opa-envoy-plugin's config file (services.<name>.type: oci): pull, poll by
// manifest digest, a new revision, an unchanged layer not activated again, bad artifacts kept out, the
// registry token flow. A gate in front of the registry logs every request and plays the token service.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../helpers/policies.js';
import { ociToolPaths, startOciRegistry, startRegistryGate, type OciRegistry, type RegistryGate } from '../helpers/oci-registry.js';
import { allowed, waitFor, metricsOf } from '../helpers/bundle-polling.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

function policyAllowing(path: string): Record<string, string> {
  return { 'authz.rego': `package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.path == "${path}"\n` };
}

const V1 = buildBundle({ files: policyAllowing('/v1'), revision: 'v1' });
const V2 = buildBundle({ files: policyAllowing('/v2'), revision: 'v2' });

let dir: string;

function writeConfig(name: string, options: { serviceUrl: string; resource: string; credentials?: string; sizeLimitBytes?: number; persist?: boolean }): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `services:
  registry:
    url: ${options.serviceUrl}
    type: oci
${options.credentials ?? ''}bundles:
  authz:
    service: registry
    resource: ${options.resource}
${options.sizeLimitBytes === undefined ? '' : `    size_limit_bytes: ${options.sizeLimitBytes}\n`}${options.persist === true ? '    persist: true\n' : ''}    polling:
      min_delay_seconds: 1
      max_delay_seconds: 1
persistence_directory: ${join(dir, 'opa')}
plugins:
  envoy_ext_authz_grpc:
    addr: 127.0.0.1:0
    path: envoy/authz/allow
`,
  );
  return file;
}

const pollsOf = async (server: TestServer, result: string): Promise<number> => Number(new RegExp(`meshwarden_bundle_polls_total\\{bundle="authz",result="${result}"\\} (\\d+)`).exec(await metricsOf(server))?.[1] ?? 0);
const rejections = (server: TestServer): string[] => server.logs.filter((line) => /^bundle update failed/.test(String(line.msg))).map((line) => String(line['error']));
const activations = (server: TestServer): number => server.logs.filter((line) => line.msg === 'bundle activated').length;

const TOOLS_AVAILABLE = ociToolPaths() !== undefined;
if (!TOOLS_AVAILABLE) console.warn('\n!!! SKIPPED: %s needs the pinned registry and oras (node scripts/tools.mjs registry oras; needs Go)\n', import.meta.filename);

describe.runIf(TOOLS_AVAILABLE)('bundles from an OCI registry', () => {
  let registry: OciRegistry;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshwarden-bundle-oci-'));
    registry = await startOciRegistry();
  });

  afterAll(async () => {
    await registry?.stop();
  });

  describe('pushed with oras as OPA documents it', () => {
    let gate: RegistryGate;
    let server: TestServer;

    beforeAll(async () => {
      gate = await startRegistryGate(registry.host);
    });

    afterAll(async () => {
      await server?.stop();
      await gate?.stop();
    });

    it('is pulled by tag (manifest, then the bundle layer) and decides with it', async () => {
      registry.push('acme/authz:live', V1);
      // The resource names the registry as OPA's format has it; requests go to the service's url (the gate).
      server = await startTestServer([
        '--config-file',
        writeConfig('config.yaml', { serviceUrl: gate.url, resource: `${registry.host}/acme/authz:live`, credentials: '    headers:\n      x-team: mesh\n' }),
      ]);
      await waitFor(() => server.serving.bundles[0]!.loaded, 10_000);
      expect(await allowed(server, '/v1')).toBe(true);
      expect(await allowed(server, '/v2')).toBe(false);
      expect(server.serving.bundles[0]!.state.activeRevision).toBe('v1');
      const first = gate.requests.slice(0, 3).map((request) => `${request.method} ${request.path.replace(/sha256:[a-f0-9]{64}/, 'sha256:…')}`);
      expect(first).toEqual(['HEAD /v2/acme/authz/manifests/live', 'GET /v2/acme/authz/manifests/sha256:…', 'GET /v2/acme/authz/blobs/sha256:…']);
      expect(gate.requests[0]!.headers['accept']).toBe('application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, */*');
      // The service's headers go with every request (OPA's OCI client leaves them out: a listed difference).
      expect(gate.requests.slice(0, 3).every((request) => request.headers['x-team'] === 'mesh')).toBe(true);
    });

    it('polls by manifest digest: an unchanged manifest is a HEAD and nothing more', async () => {
      const before = gate.requests.length;
      await waitFor(async () => (await pollsOf(server, 'not_modified')) >= 2, 5_000);
      const since = gate.requests.slice(before);
      expect(since.length).toBeGreaterThan(0);
      expect(since.every((request) => request.method === 'HEAD')).toBe(true);
      expect(activations(server)).toBe(1);
    });

    it('takes a new revision pushed to the tag, with no failed call meanwhile', async () => {
      const wrong: string[] = [];
      let stop = false;
      const load = (async () => {
        while (!stop) {
          const [v1, v2] = await Promise.all([allowed(server, '/v1'), allowed(server, '/v2')]);
          if (v1 === v2) wrong.push(`v1=${v1} v2=${v2}`);
        }
      })();
      registry.push('acme/authz:live', V2);
      await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 'v2', 5_000);
      stop = true;
      await load;
      expect(wrong).toEqual([]);
      expect(await allowed(server, '/v2')).toBe(true);
    });

    it('does not activate the same bundle layer again under a new manifest (OPA: the layer digest is the ETag)', async () => {
      const activated = activations(server);
      const blobsBefore = gate.requests.filter((request) => request.path.includes('/blobs/')).length;
      const notModified = await pollsOf(server, 'not_modified');
      // oras stamps a creation time: the same tarball pushed again is a new manifest over the same layer.
      registry.push('acme/authz:live', V2);
      const manifestsBefore = gate.requests.filter((request) => request.method === 'GET' && request.path.includes('/manifests/')).length;
      await waitFor(() => gate.requests.filter((request) => request.method === 'GET' && request.path.includes('/manifests/')).length > manifestsBefore, 5_000);
      await waitFor(async () => (await pollsOf(server, 'not_modified')) >= notModified + 2, 5_000);
      expect(activations(server)).toBe(activated);
      expect(gate.requests.filter((request) => request.path.includes('/blobs/')).length).toBe(blobsBefore);
    });

    it('keeps the bundle in force when the tag points at something that is no bundle, or the blob is tampered with', async () => {
      const bad: [string, () => void, string][] = [
        ['a layer of another media type', () => registry.push('acme/authz:live', V1, 'application/vnd.example.unknown'), 'has no layer of type application/vnd.oci.image.layer.v1.tar+gzip'],
        ['an image index', () => registry.pushIndex('acme/authz:live', ['v1-tag']), 'is an image index, not a bundle\'s manifest'],
        ['a gzip layer that is no bundle', () => registry.push('acme/authz:live', Buffer.from('not a gzip archive')), 'bad bundle archive'],
        [
          'a blob altered on the way',
          () => {
            gate.tamperBlobs = true;
            registry.push('acme/authz:live', V1);
          },
          'does not match its digest',
        ],
      ];
      registry.push('acme/authz:v1-tag', V1);
      for (const [what, push, why] of bad) {
        push();
        await waitFor(() => rejections(server).some((error) => error.includes(why)), 5_000).catch(() => {
          throw new Error(`${what}: no rejection with "${why}" in ${JSON.stringify(rejections(server))}`);
        });
        expect(await allowed(server, '/v2')).toBe(true);
        expect(await allowed(server, '/v1')).toBe(false);
        expect(server.serving.bundles[0]!.state.activeRevision).toBe('v2');
      }
      gate.tamperBlobs = false;
      await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 'v1', 5_000);
      expect(await allowed(server, '/v1')).toBe(true);
    });
  });

  it('refuses a bundle layer over size_limit_bytes before downloading it', async () => {
    const gate = await startRegistryGate(registry.host);
    registry.push('acme/big:v1', V1);
    const server = await startTestServer(['--config-file', writeConfig('big.yaml', { serviceUrl: gate.url, resource: `${registry.host}/acme/big:v1`, sizeLimitBytes: 100 })]);
    try {
      await waitFor(() => rejections(server).some((error) => error.includes('more than the size limit of 100')), 5_000);
      expect(server.serving.bundles[0]!.loaded).toBe(false);
      expect(await allowed(server, '/v1')).toBe(false);
      expect(gate.requests.some((request) => request.path.includes('/blobs/'))).toBe(false);
    } finally {
      await server.stop();
      await gate.stop();
    }
  });

  it('persist: true keeps the pulled bundle and serves it at start while the registry is down', async () => {
    const gate = await startRegistryGate(registry.host);
    registry.push('acme/persisted:v1', V1);
    const config = writeConfig('persist.yaml', { serviceUrl: gate.url, resource: `${registry.host}/acme/persisted:v1`, persist: true });
    const first = await startTestServer(['--config-file', config]);
    try {
      await waitFor(() => first.serving.bundles[0]!.loaded, 10_000);
    } finally {
      await first.stop();
      await gate.stop();
    }
    // The gate is gone: the registry cannot be reached at the configured url.
    const second = await startTestServer(['--config-file', config]);
    try {
      await waitFor(() => second.serving.bundles[0]!.loaded, 5_000);
      expect(await allowed(second, '/v1')).toBe(true);
      expect(rejections(second).some((error) => error.includes('download failed'))).toBe(true);
    } finally {
      await second.stop();
    }
  });

  describe('behind the registry token flow (WWW-Authenticate: Bearer realm, service, scope)', () => {
    let gate: RegistryGate;

    beforeAll(async () => {
      gate = await startRegistryGate(registry.host, { credential: `Bearer ${Buffer.from('configured-secret').toString('base64')}` });
      registry.push('acme/private:v1', V1);
    });

    afterAll(async () => {
      await gate?.stop();
    });

    it("fetches a token from the realm with the configured bearer credential, and pulls with the registry's token", async () => {
      const config = writeConfig('token.yaml', {
        serviceUrl: gate.url,
        resource: `${registry.host}/acme/private:v1`,
        credentials: '    credentials:\n      bearer:\n        token: configured-secret\n',
      });
      const server = await startTestServer(['--config-file', config]);
      try {
        await waitFor(() => server.serving.bundles[0]!.loaded, 10_000);
        expect(await allowed(server, '/v1')).toBe(true);
        const tokenRequests = gate.requests.filter((request) => request.path.startsWith('/token'));
        expect(tokenRequests[0]).toMatchObject({ method: 'GET', authorization: `Bearer ${Buffer.from('configured-secret').toString('base64')}`, status: 200 });
        expect(new URL(tokenRequests[0]!.path, 'http://x').searchParams.getAll('scope')).toEqual(['repository:acme/private:pull']);
        expect(new URL(tokenRequests[0]!.path, 'http://x').searchParams.get('service')).toBe('meshwarden-test-registry');
        const pulls = gate.requests.filter((request) => request.path.startsWith('/v2/') && request.status === 200);
        expect(pulls.length).toBeGreaterThanOrEqual(3);
        expect(pulls.every((request) => /^Bearer registry-token-/.test(request.authorization))).toBe(true);
        // The token is kept: later polls need no new one.
        await waitFor(async () => (await pollsOf(server, 'not_modified')) >= 2, 5_000);
        expect(gate.requests.filter((request) => request.path.startsWith('/token')).length).toBe(tokenRequests.length);
      } finally {
        await server.stop();
      }
    });

    it('is not ready, and denies, when the realm refuses the credential', async () => {
      const config = writeConfig('no-token.yaml', { serviceUrl: gate.url, resource: `${registry.host}/acme/private:v1`, credentials: '    credentials:\n      bearer:\n        token: wrong\n' });
      const server = await startTestServer(['--config-file', config]);
      try {
        await waitFor(() => rejections(server).some((error) => error.includes('the token realm') && error.includes('answered 401')), 5_000);
        expect(server.serving.bundles[0]!.loaded).toBe(false);
        expect(await allowed(server, '/v1')).toBe(false);
        expect((await fetch(`http://127.0.0.1:${server.serving.admin!.port}/readyz`)).status).toBe(503);
      } finally {
        await server.stop();
      }
    });
  });
});
