// Bundles from a real HTTP server (Debian's nginx on 127.0.0.1, its own ETags and 304s) through
// opa-envoy-plugin's config file: download, poll, a new revision under load, bad bundles kept out, persist.
import { once } from 'node:events';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { buildBundle } from '../helpers/policies.js';
import { httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

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

async function allowed(server: TestServer, path: string): Promise<boolean> {
  const response = await server.client.check(httpCheckRequest({ path }));
  return (response['status']?.['code'] ?? 0) === 0;
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - started;
}

async function metricsOf(server: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
}

async function readyStatus(server: TestServer): Promise<number> {
  return (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/readyz`)).status;
}

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
    expect(await allowed(server, '/v1')).toBe(false);
    nginx.publish('bundles/authz.tar.gz', V1);
    await waitFor(async () => (await readyStatus(server)) === 200, 10_000);
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
