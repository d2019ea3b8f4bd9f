// Bundles from a real HTTP server (Debian's nginx on 127.0.0.1, its own ETags and 304s) through
// opa-envoy-plugin's config file: download, poll, a new revision under load, bad bundles kept out, persist.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleArchive } from '../../src/check/bundle.js';
import { nginxPath, startNginx, type Nginx } from '../helpers/nginx.js';
import { buildBundle } from '../helpers/policies.js';
import { allowed, waitFor, metricsOf } from '../helpers/bundle-polling.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Allows GET on one path: which one tells the revisions apart. */
function policyAllowing(path: string): Record<string, string> {
  return { 'authz.rego': `package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.path == "${path}"\n` };
}

const V1 = buildBundle({ files: policyAllowing('/v1'), revision: 'v1' });
const V2 = buildBundle({ files: policyAllowing('/v2'), revision: 'v2' });
const WRONG_ENTRYPOINT = buildBundle({ files: { 'authz.rego': 'package other\nallow := true\n' }, entrypoint: 'other/allow', revision: 'bad' });

let nginx: Nginx;
let dir: string;

function writeConfig(name: string, options: { resource?: string; persist?: boolean; sizeLimitBytes?: number; extra?: string } = {}): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `services:
  bundle-server:
    url: \${BUNDLE_SERVER_URL}
${options.extra ?? ''}bundles:
  authz:
    service: bundle-server
    resource: ${options.resource ?? 'bundles/authz.tar.gz'}
    persist: ${options.persist ?? true}
${options.sizeLimitBytes === undefined ? '' : `    size_limit_bytes: ${options.sizeLimitBytes}\n`}    polling:
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

/** grpc.health.v1 status of the server ('' service), with its own client. */
async function grpcHealth(server: TestServer): Promise<string> {
  const protoDir = join(dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json')), 'proto');
  const definition = protoLoader.loadSync('health/v1/health.proto', { includeDirs: [protoDir], enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health;
  const client = new Health(server.address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => client.Check({ service: '' }, (error: Error | null, response: { status: string }) => (error ? reject(error) : resolve(response.status))));
  } finally {
    client.close();
  }
}

async function readyStatus(server: TestServer): Promise<number> {
  return (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/readyz`)).status;
}

// Debian's nginx, installed by scripts/tools.mjs (apt-get, as root); without it these tests are skipped, loudly.
const NGINX_AVAILABLE = nginxPath() !== undefined;
if (!NGINX_AVAILABLE) console.warn('\n!!! SKIPPED: %s needs nginx (node scripts/tools.mjs nginx, as root)\n', import.meta.filename);

describe.runIf(NGINX_AVAILABLE)('against nginx', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshwarden-bundle-server-'));
    nginx = await startNginx();
  });

  afterAll(async () => {
    await nginx?.stop();
  });

  describe('a bundle served by nginx', () => {
    let server: TestServer;

    afterAll(async () => {
      await server?.stop();
    });

    it('is not ready (denies with no_policy) until the bundle is there, then downloads and decides with it', async () => {
      const config = writeConfig('config.yaml');
      server = await startTestServer(['--config-file', config], { BUNDLE_SERVER_URL: nginx.url });
      expect(await readyStatus(server)).toBe(503);
      expect(await grpcHealth(server)).toBe('NOT_SERVING');
      expect(await allowed(server, '/v1')).toBe(false);
      nginx.publish('bundles/authz.tar.gz', V1);
      await waitFor(async () => (await readyStatus(server)) === 200, 10_000);
      expect(await grpcHealth(server)).toBe('SERVING');
      expect(await allowed(server, '/v1')).toBe(true);
      expect(await allowed(server, '/v2')).toBe(false);
      expect(server.serving.bundles[0]!.state.activeRevision).toBe('v1');
    });

    it('polls with If-None-Match and keeps the bundle on 304', async () => {
      await waitFor(() => nginx.accessLog().some((line) => line.startsWith('304 "') && !line.startsWith('304 "-"')), 5_000);
      const notModified = nginx.accessLog().filter((line) => line.startsWith('304'));
      expect(notModified[0]).toMatch(/^304 "[^"]+" \/bundles\/authz\.tar\.gz/);
      expect(await allowed(server, '/v1')).toBe(true);
      expect(await metricsOf(server)).toMatch(/meshwarden_bundle_polls_total\{bundle="authz",result="not_modified"\} [1-9]/);
    });

    it('takes a new revision within the polling window, with no failed or mis-decided call under load', async () => {
      let stop = false;
      let calls = 0;
      let sawV2 = false;
      const wrong: string[] = [];
      // Eight callers in a loop: each answer is v1's or v2's, and once v2 is seen, never v1's again.
      const load = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const [v1, v2] = await Promise.all([allowed(server, '/v1'), allowed(server, '/v2')]);
          calls += 2;
          if (v1 === v2) wrong.push(`v1=${v1} v2=${v2}`);
          if (v2) sawV2 = true;
          else if (sawV2) wrong.push('v1 after v2');
        }
      });
      const published = Date.now();
      nginx.publish('bundles/authz.tar.gz', V2);
      // The polling window is 1 s; a poll may be under way, so allow two windows and the activation.
      await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 'v2', 5_000);
      const tookMs = Date.now() - published;
      await new Promise((resolve) => setTimeout(resolve, 200));
      stop = true;
      await Promise.all(load);
      expect(wrong).toEqual([]);
      expect(sawV2).toBe(true);
      expect(calls).toBeGreaterThan(50);
      expect(tookMs).toBeLessThan(3_000);
      expect(await allowed(server, '/v2')).toBe(true);
    });

    it('rejects a corrupt archive and a bundle without the decision, and keeps serving the last good bundle', async () => {
      const before = await metricsOf(server);
      const rejectedBefore = Number(/meshwarden_bundle_polls_total\{bundle="authz",result="rejected"\} (\d+)/.exec(before)![1]);
      for (const [index, bad] of [Buffer.from('this is not a gzip archive'), WRONG_ENTRYPOINT].entries()) {
        nginx.publish('bundles/authz.tar.gz', bad);
        await waitFor(async () => Number(/meshwarden_bundle_polls_total\{bundle="authz",result="rejected"\} (\d+)/.exec(await metricsOf(server))![1]) > rejectedBefore + index, 5_000);
        expect(await allowed(server, '/v2')).toBe(true);
        expect(server.serving.bundles[0]!.state.activeRevision).toBe('v2');
        expect(await readyStatus(server)).toBe(200);
      }
      const messages = server.logs.filter((line) => line.msg === 'bundle update failed; the last good bundle keeps serving').map((line) => String(line['error']));
      expect(messages.some((message) => message.includes('bad bundle archive'))).toBe(true);
      expect(messages.some((message) => message.includes('decision path "envoy/authz/allow" is not an entrypoint'))).toBe(true);
    });
  });

  describe('size_limit_bytes', () => {
    it('rejects a bundle over the limit and serves nothing rather than a part of it', async () => {
      nginx.publish('bundles/big.tar.gz', V1);
      const config = writeConfig('big.yaml', { resource: 'bundles/big.tar.gz', persist: false, sizeLimitBytes: 1000 });
      const server = await startTestServer(['--config-file', config], { BUNDLE_SERVER_URL: nginx.url });
      try {
        await waitFor(async () => /meshwarden_bundle_polls_total\{bundle="authz",result="(rejected|download_failed)"\} [1-9]/.test(await metricsOf(server)), 5_000);
        expect(await readyStatus(server)).toBe(503);
        expect(await allowed(server, '/v1')).toBe(false);
        expect(server.logs.some((line) => String(line['error']).includes('larger than'))).toBe(true);
      } finally {
        await server.stop();
      }
    });
  });

  describe('persist: true', () => {
    it('serves the persisted bundle at start while the service is down, and is ready with it', async () => {
      // The first describe's server persisted v2 under persistence_directory.
      const port = nginx.port;
      await nginx.stop();
      const config = writeConfig('persisted.yaml');
      const server = await startTestServer(['--config-file', config], { BUNDLE_SERVER_URL: `http://127.0.0.1:${port}` });
      try {
        await waitFor(async () => (await readyStatus(server)) === 200, 5_000);
        expect(await allowed(server, '/v2')).toBe(true);
        expect(await allowed(server, '/v1')).toBe(false);
        expect(server.logs.some((line) => line.msg === 'bundle update failed; the last good bundle keeps serving')).toBe(true);
      } finally {
        await server.stop();
        nginx = await startNginx({ port });
      }
    });
  });

  describe('status reports', () => {
    it("are POSTed as OPA's status API on change: labels, bundle revisions, activation and download errors", async () => {
      const reports: Record<string, any>[] = [];
      const receiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          if (request.method === 'POST' && request.url === '/status/mesh' && request.headers['content-type'] === 'application/json') reports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          response.writeHead(200).end();
        });
      });
      receiver.listen(0, '127.0.0.1');
      await once(receiver, 'listening');
      const receiverPort = (receiver.address() as { port: number }).port;
      nginx.publish('bundles/status.tar.gz', V1);
      const config = writeConfig('status.yaml', {
        resource: 'bundles/status.tar.gz',
        persist: false,
        extra: `  status-receiver:\n    url: http://127.0.0.1:${receiverPort}\nlabels:\n  cluster: eu-1\nstatus:\n  service: status-receiver\n  partition_name: mesh\n`,
      });
      const server = await startTestServer(['--config-file', config], { BUNDLE_SERVER_URL: nginx.url });
      try {
        const revisionSeen = (revision: string) => () => reports.some((report) => report['bundles']?.['authz']?.['active_revision'] === revision);
        await waitFor(revisionSeen('v1'), 5_000);
        const first = reports.find((report) => report['bundles']['authz']['active_revision'] === 'v1')!;
        expect(first).toMatchObject({
          labels: { cluster: 'eu-1', id: expect.any(String), version: expect.stringMatching(/^meshwarden-/) },
          bundles: { authz: { name: 'authz', type: 'snapshot', last_successful_activation: expect.stringMatching(/^20/), last_successful_download: expect.stringMatching(/^20/) } },
          plugins: { envoy_ext_authz_grpc: { state: 'OK' }, bundle: { state: 'OK' }, status: { state: 'OK' } },
        });
        const sentBefore = reports.length;
        // Polls that change nothing (304s) send nothing.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        expect(reports.length).toBe(sentBefore);
        nginx.publish('bundles/status.tar.gz', Buffer.from('corrupt'));
        await waitFor(() => reports.some((report) => report['bundles']['authz']['code'] === 'bundle_error'), 5_000);
        const failed = reports.find((report) => report['bundles']['authz']['code'] === 'bundle_error')!;
        expect(failed['bundles']['authz']).toMatchObject({ active_revision: 'v1', message: expect.stringContaining('bad bundle archive') });
        nginx.publish('bundles/status.tar.gz', V2);
        await waitFor(revisionSeen('v2'), 5_000);
        expect(reports.at(-1)!['bundles']['authz']['code']).toBeUndefined();
      } finally {
        await server.stop();
        receiver.close();
      }
    });
  });

  describe('a Rego-source bundle (no policy.wasm)', () => {
    it('is refused with a clear message without opa on PATH, and compiled to wasm with it', async () => {
      const { toolPath } = await import('../helpers/tools.js');
      const opaDir = join(toolPath('opa'), '..');
      const savedPath = process.env['PATH'];
      process.env['PATH'] = (savedPath ?? '').split(':').filter((entry) => entry !== opaDir && !existsSyncSafe(join(entry, 'opa'))).join(':');
      nginx.publish('bundles/rego.tar.gz', buildBundle({ files: policyAllowing('/rego'), revision: 'r1', target: 'rego' }));
      const config = writeConfig('rego.yaml', { resource: 'bundles/rego.tar.gz', persist: false });
      const server = await startTestServer(['--config-file', config], { BUNDLE_SERVER_URL: nginx.url });
      try {
        await waitFor(() => server.logs.some((line) => String(line['error']).includes('there is no opa on PATH')), 5_000);
        expect(await readyStatus(server)).toBe(503);
        process.env['PATH'] = `${opaDir}:${savedPath ?? ''}`;
        await waitFor(async () => (await readyStatus(server)) === 200, 10_000);
        expect(await allowed(server, '/rego')).toBe(true);
        expect(await allowed(server, '/v1')).toBe(false);
        expect(server.serving.bundles[0]!.state.activeRevision).toBe('r1');
      } finally {
        process.env['PATH'] = savedPath;
        await server.stop();
      }
    });
  });

  function existsSyncSafe(path: string): boolean {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  }

  describe('signed bundles (signed by the pinned opa build --signing-key)', () => {
    it('activates a signed bundle and refuses an unsigned, a tampered and a wrongly signed one, the last good one serving', async () => {
      const keyFile = (name: string): { privateFile: string; publicPem: string } => {
        const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
        writeFileSync(join(dir, name), pair.privateKey);
        return { privateFile: join(dir, name), publicPem: pair.publicKey };
      };
      const key = keyFile('signing.pem');
      const other = keyFile('other.pem');
      const signedV1 = buildBundle({ files: policyAllowing('/v1'), revision: 's1', signingKey: key.privateFile });
      const signedV2 = buildBundle({ files: policyAllowing('/v2'), revision: 's2', signingKey: key.privateFile });
      const unsigned = buildBundle({ files: policyAllowing('/v2'), revision: 'unsigned' });
      const otherKey = buildBundle({ files: policyAllowing('/v2'), revision: 'other-key', signingKey: other.privateFile });
      // The same signature over other files: v2's archive with v1's .signatures.json.
      const work = mkdtempSync(join(dir, 'tamper-'));
      writeFileSync(join(work, 'v2.tar.gz'), signedV2);
      mkdirSync(join(work, 'root'));
      execFileSync('tar', ['-xzf', join(work, 'v2.tar.gz'), '-C', join(work, 'root')]);
      writeFileSync(join(work, 'root', '.signatures.json'), readBundleArchive('v1', signedV1).get('/.signatures.json')!);
      execFileSync('tar', ['-czf', join(work, 'out.tar.gz'), '-C', join(work, 'root'), '.']);
      const tampered = readFileSync(join(work, 'out.tar.gz'));
      const indented = key.publicPem.trim().split('\n').map((line) => `        ${line}`).join('\n');
      const config = writeConfig('signed.yaml', { resource: 'bundles/signed.tar.gz', persist: false });
      const text = readFileSync(config, 'utf8').replace('    polling:', `    signing:\n      keyid: release\n    polling:`) + `keys:\n  release:\n    algorithm: RS256\n    key: |\n${indented}\n`;
      writeFileSync(config, text);
      nginx.publish('bundles/signed.tar.gz', signedV1);
      const server = await startTestServer(['--config-file', config], { BUNDLE_SERVER_URL: nginx.url });
      try {
        await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 's1', 5_000);
        expect(await allowed(server, '/v1')).toBe(true);
        const rejections = (): string[] => server.logs.filter((line) => line.msg === 'bundle update failed; the last good bundle keeps serving').map((line) => String(line['error']));
        for (const [bad, why] of [
          [unsigned, 'the bundle has no .signatures.json'],
          [tampered, 'digest mismatch'],
          [otherKey, 'does not verify with key release'],
        ] as const) {
          nginx.publish('bundles/signed.tar.gz', bad);
          await waitFor(() => rejections().some((error) => error.includes(why)), 5_000);
          expect(await allowed(server, '/v1')).toBe(true);
          expect(await allowed(server, '/v2')).toBe(false);
          expect(server.serving.bundles[0]!.state.activeRevision).toBe('s1');
        }
        nginx.publish('bundles/signed.tar.gz', signedV2);
        await waitFor(() => server.serving.bundles[0]!.state.activeRevision === 's2', 5_000);
        expect(await allowed(server, '/v2')).toBe(true);
      } finally {
        await server.stop();
      }
    });
  });
});
