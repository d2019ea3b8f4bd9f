// A service's credentials and TLS against nginx over https on 127.0.0.1: a bearer token (nginx checks it),
// the service's CA (tls.ca_cert), a client certificate (nginx requires one), and allow_insecure_tls, which
// only an explicit true turns on. Certificates are made by openssl at test time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxPath, startNginx, type Nginx } from '../helpers/nginx.js';
import { buildBundle } from '../helpers/policies.js';
import { httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'meshwarden-bundle-tls-'));
const file = (name: string): string => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all from that CA. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=meshwarden test bundle CA');
  for (const [name, extension] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(file(`${name}.ext`), `${extension}\n`);
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
  }
}

const TOKEN = 's3cret-bundle-token';
const BUNDLE = buildBundle({ files: { 'authz.rego': 'package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.method == "GET"\n' }, revision: 'tls1' });

let bearerServer: Nginx;
let mtlsServer: Nginx;

// Debian's nginx, installed by scripts/tools.mjs (apt-get, as root); without it these tests are skipped, loudly.
const NGINX_AVAILABLE = nginxPath() !== undefined;
if (!NGINX_AVAILABLE) console.warn('\n!!! SKIPPED: %s needs nginx (node scripts/tools.mjs nginx, as root)\n', import.meta.filename);

describe.runIf(NGINX_AVAILABLE)('against nginx', () => {
  beforeAll(async () => {
    makeCertificates();
    bearerServer = await startNginx({
      secureToken: TOKEN,
      tls: { cert: file('server.pem'), key: file('server.key') },
      redirects: { '/moved/authz.tar.gz': '/secure/authz.tar.gz', '/loop.tar.gz': '/loop.tar.gz' },
    });
    mtlsServer = await startNginx({ tls: { cert: file('server.pem'), key: file('server.key'), clientCa: file('ca.pem') } });
    bearerServer.publish('secure/authz.tar.gz', BUNDLE);
    mtlsServer.publish('bundles/authz.tar.gz', BUNDLE);
  });

  afterAll(async () => {
    await bearerServer?.stop();
    await mtlsServer?.stop();
  });

  /** A server on a config whose one service is `service` (YAML lines under the service's name). */
  async function serveWith(service: string, resource: string, url: string): Promise<TestServer> {
    const config = file(`config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      config,
      `services:\n  bundles:\n    url: ${url}\n${service}bundles:\n  authz:\n    service: bundles\n    resource: ${resource}\n    polling: { min_delay_seconds: 1, max_delay_seconds: 1 }\nplugins:\n  envoy_ext_authz_grpc: { addr: "127.0.0.1:0" }\n`,
    );
    return startTestServer(['--config-file', config]);
  }

  async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function activatedThenAllows(server: TestServer): Promise<void> {
    await waitFor(() => server.serving.bundles[0]!.loaded, 5_000);
    const response = await server.client.check(httpCheckRequest({ method: 'GET' }));
    expect(response['status']?.['code'] ?? 0).toBe(0);
    expect(server.serving.bundles[0]!.state.activeRevision).toBe('tls1');
  }

  async function failsWith(server: TestServer, text: string | RegExp): Promise<void> {
    await waitFor(() => server.logs.some((line) => line.msg === 'bundle update failed; no bundle is loaded yet'), 5_000);
    const errors = server.logs.filter((line) => line.msg === 'bundle update failed; no bundle is loaded yet').map((line) => String(line['error']));
    expect(errors.some((error) => (typeof text === 'string' ? error.includes(text) : text.test(error)))).toBe(true);
    expect(server.serving.bundles[0]!.loaded).toBe(false);
  }

  describe('https with a bearer token', () => {
    it('downloads with the token and the service CA', async () => {
      const server = await serveWith(`    tls: { ca_cert: ${file('ca.pem')} }\n    credentials:\n      bearer: { token: ${TOKEN} }\n`, 'secure/authz.tar.gz', bearerServer.url);
      try {
        await activatedThenAllows(server);
        expect(bearerServer.accessLog().some((line) => line.startsWith('200') && line.endsWith(`"Bearer ${TOKEN}"`))).toBe(true);
      } finally {
        await server.stop();
      }
    });

    it('reads token_path at every request', async () => {
      writeFileSync(file('token'), `${TOKEN}\n`);
      const server = await serveWith(`    tls: { ca_cert: ${file('ca.pem')} }\n    credentials:\n      bearer: { token_path: ${file('token')} }\n`, 'secure/authz.tar.gz', bearerServer.url);
      try {
        await activatedThenAllows(server);
      } finally {
        await server.stop();
      }
    });

    it('follows a redirect on the same origin with the token, and stops after 10', async () => {
    const service = `    tls: { ca_cert: ${file('ca.pem')} }\n    credentials:\n      bearer: { token: ${TOKEN} }\n`;
    const moved = await serveWith(service, 'moved/authz.tar.gz', bearerServer.url);
    try {
      await activatedThenAllows(moved);
    } finally {
      await moved.stop();
    }
    const looping = await serveWith(service, 'loop.tar.gz', bearerServer.url);
    try {
      await failsWith(looping, 'stopped after 10 redirects');
    } finally {
      await looping.stop();
    }
  });

  it('is refused by the server with a wrong token (401), and nothing is loaded', async () => {
      const server = await serveWith(`    tls: { ca_cert: ${file('ca.pem')} }\n    credentials:\n      bearer: { token: wrong }\n`, 'secure/authz.tar.gz', bearerServer.url);
      try {
        await failsWith(server, 'the server answered 401');
      } finally {
        await server.stop();
      }
    });

    it("does not trust the server's certificate without its CA, unless allow_insecure_tls: true", async () => {
      const strict = await serveWith(`    credentials:\n      bearer: { token: ${TOKEN} }\n`, 'secure/authz.tar.gz', bearerServer.url);
      try {
        await failsWith(strict, /certificate/);
      } finally {
        await strict.stop();
      }
      const insecure = await serveWith(`    allow_insecure_tls: true\n    credentials:\n      bearer: { token: ${TOKEN} }\n`, 'secure/authz.tar.gz', bearerServer.url);
      try {
        await activatedThenAllows(insecure);
      } finally {
        await insecure.stop();
      }
    });
  });

  describe('https with a client certificate (nginx requires one)', () => {
    it('downloads with credentials.client_tls', async () => {
      const server = await serveWith(
        `    tls: { ca_cert: ${file('ca.pem')} }\n    credentials:\n      client_tls: { cert: ${file('client.pem')}, private_key: ${file('client.key')} }\n`,
        'bundles/authz.tar.gz',
        mtlsServer.url,
      );
      try {
        await activatedThenAllows(server);
      } finally {
        await server.stop();
      }
    });

    it('is refused without one (nginx answers 400)', async () => {
      const server = await serveWith(`    tls: { ca_cert: ${file('ca.pem')} }\n`, 'bundles/authz.tar.gz', mtlsServer.url);
      try {
        await failsWith(server, 'the server answered 400');
      } finally {
        await server.stop();
      }
    });

    it('is a start-up problem naming the key when the certificate file is missing', async () => {
      await expect(serveWith(`    credentials:\n      client_tls: { cert: ${file('missing.pem')}, private_key: ${file('client.key')} }\n`, 'bundles/authz.tar.gz', mtlsServer.url)).rejects.toThrow(
        /services\.bundles\.credentials\.client_tls\.cert: .*missing\.pem/,
      );
    });
  });
});
