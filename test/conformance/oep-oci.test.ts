// OCI bundles, the differential: ONE config file (services.<name>.type: oci, OPA's <registry>/<repository>:<tag>
// resource, bearer credentials) and ONE Rego bundle pushed with oras to a real registry behind the registry
// token flow, served to the real opa-envoy-plugin and to meshwarden. Both give the same decisions, both take a
// new revision pushed to the tag, and both keep the one in force when the tag points at no bundle.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ociToolPaths, startOciRegistry, startRegistryGate, type OciRegistry, type RegistryGate } from '../helpers/oci-registry.js';
import { buildBundle } from '../helpers/policies.js';
import { decisionOf, startMeshwarden, startOpaEnvoyPlugin, waitUntil, type ManagedProcess } from './oep/management-processes.js';
import { findOpaEnvoyPlugin } from './oep/runner.js';

function policy(revision: string): Record<string, string> {
  return {
    'authz.rego': `package envoy.authz
default allow := {"allowed": false, "http_status": 403, "body": "denied by ${revision}", "headers": {"x-revision": "${revision}"}}
allow := {"allowed": true, "headers": {"x-revision": "${revision}"}} if {
  input.attributes.request.http.method == "GET"
  startswith(input.attributes.request.http.path, data.prefixes[_])
}
`,
    'data.json': JSON.stringify({ prefixes: revision === 'v1' ? ['/public'] : ['/public', '/reports'] }),
  };
}

const CONFIG = `services:
  registry:
    url: \${REGISTRY_URL}
    type: oci
    credentials:
      bearer:
        token: \${REGISTRY_CREDENTIAL}
bundles:
  authz:
    service: registry
    resource: \${BUNDLE_REFERENCE}
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 1
persistence_directory: \${PERSISTENCE_DIRECTORY}
plugins:
  envoy_ext_authz_grpc:
    addr: \${EXT_AUTHZ_ADDR}
    path: envoy/authz/allow
`;

// OPA sends an OCI registry the configured bearer token base64-encoded; the token realm expects it so.
const SHARED_CREDENTIAL = `Bearer ${Buffer.from('shared-secret').toString('base64')}`;

const REQUESTS = [
  { method: 'GET', path: '/public/index.html' },
  { method: 'GET', path: '/reports/2026' },
  { method: 'POST', path: '/public/form' },
  { method: 'GET', path: '/admin' },
];

const binary = findOpaEnvoyPlugin();
const tools = ociToolPaths();

if (binary === undefined || tools === undefined) {
  console.warn(`\n!!! SKIPPED: the OCI registry differential: ${binary === undefined ? 'opa-envoy-plugin' : 'registry and oras (node scripts/tools.mjs registry oras)'} not available.\n`);
  describe('opa-envoy-plugin and meshwarden on one OCI registry', () => {
    it.skip('SKIPPED: opa-envoy-plugin, registry or oras absent', () => {});
  });
} else {
  describe('opa-envoy-plugin and meshwarden on one config file and one bundle in an OCI registry', () => {
    let registry: OciRegistry;
    let gate: RegistryGate;
    let oep: ManagedProcess;
    let meshwarden: ManagedProcess;

    const agree = async (): Promise<void> => {
      for (const request of REQUESTS) {
        const [fromOep, fromMeshwarden] = await Promise.all([decisionOf(oep.client, request), decisionOf(meshwarden.client, request)]);
        expect({ request, decision: fromMeshwarden }).toEqual({ request, decision: fromOep });
      }
    };

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'meshwarden-oep-oci-'));
      const config = join(dir, 'config.yaml');
      writeFileSync(config, CONFIG);
      registry = await startOciRegistry();
      gate = await startRegistryGate(registry.host, { credential: SHARED_CREDENTIAL });
      // A Rego-source bundle (opa build without -t wasm), what opa-envoy-plugin users push.
      registry.push('acme/authz:live', buildBundle({ files: policy('v1'), revision: 'v1', target: 'rego' }));
      const env = (name: string) => ({ REGISTRY_URL: gate.url, REGISTRY_CREDENTIAL: 'shared-secret', BUNDLE_REFERENCE: `${gate.host}/acme/authz:live`, PERSISTENCE_DIRECTORY: join(dir, name) });
      oep = await startOpaEnvoyPlugin(binary, config, env('oep'));
      meshwarden = await startMeshwarden(config, env('meshwarden'));
    }, 120_000);

    afterAll(async () => {
      await oep?.stop();
      await meshwarden?.stop();
      await gate?.stop();
      await registry?.stop();
    });

    it('both pull through the token flow and give the same decisions', async () => {
      await agree();
      expect(await decisionOf(meshwarden.client, REQUESTS[0]!)).toMatchObject({ code: 0, okHeaders: { 'x-revision': 'v1' } });
      // Both fetched a token with the configured credential (base64, as OPA sends it to a registry) and pulled with the registry's token.
      const tokenRequests = gate.requests.filter((request) => request.path.startsWith('/token'));
      expect(tokenRequests.length).toBeGreaterThanOrEqual(2);
      expect(tokenRequests.every((request) => request.authorization === SHARED_CREDENTIAL && request.status === 200)).toBe(true);
      expect(gate.requests.filter((request) => request.path.includes('/blobs/') && request.status === 200).every((request) => request.authorization.startsWith('Bearer registry-token-'))).toBe(true);
    });

    it('both take a new revision pushed to the tag, and agree on it', async () => {
      registry.push('acme/authz:live', buildBundle({ files: policy('v2'), revision: 'v2', target: 'rego' }));
      const onV2 = async (process: ManagedProcess): Promise<boolean> => (await decisionOf(process.client, REQUESTS[1]!))['code'] === 0;
      await waitUntil(async () => (await onV2(oep)) && (await onV2(meshwarden)), 20_000, 'both servers did not take revision v2 within 20 s');
      await agree();
      expect(await decisionOf(meshwarden.client, REQUESTS[1]!)).toMatchObject({ code: 0, okHeaders: { 'x-revision': 'v2' } });
    });

    it('both keep the revision in force when the tag is moved to an artifact with no bundle layer', async () => {
      registry.push('acme/authz:live', buildBundle({ files: policy('v3'), revision: 'v3', target: 'rego' }), 'application/vnd.example.not-a-bundle');
      const pulledSince = gate.requests.length;
      // Three polling windows: each has pulled the new manifest and refused it.
      await waitUntil(() => gate.requests.slice(pulledSince).filter((request) => request.method === 'GET' && request.path.includes('/manifests/sha256:')).length >= 4, 10_000, 'the new manifest was not pulled by both');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await agree();
      expect(await decisionOf(oep.client, REQUESTS[1]!)).toMatchObject({ code: 0, okHeaders: { 'x-revision': 'v2' } });
      expect(await decisionOf(meshwarden.client, REQUESTS[1]!)).toMatchObject({ code: 0, okHeaders: { 'x-revision': 'v2' } });
    });
  });
}
