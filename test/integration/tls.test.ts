// TLS and mutual TLS on every listener, over real sockets: certificates made by the test helpers, a grpc-js client
// and grpcurl with and without a client certificate, callers the SPIFFE allow-list refuses, an expired
// certificate, and a rotation under load in which no call fails.
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serve, type Serving } from '../../src/commands/serve.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { createCa, issuePair, type IssuedPair, type TestCa } from '../helpers/certs.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, upstreamDefinition, type CheckResponseObject, type LogLine } from '../helpers/server.js';
import { makeTempDir } from '../helpers/temp.js';
import { toolPath } from '../helpers/tools.js';

const run = promisify(execFile);
const SERVER_NAME = 'meshwarden.test';
const ENVOY = 'spiffe://cluster.local/ns/envoy/sa/envoy';
const INGRESS = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway';

let ca: TestCa;
let otherCa: TestCa;
let dir: string;

function writePair(name: string, pair: IssuedPair): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, pair.cert);
  writeFileSync(key, pair.key);
  return { cert, key };
}

interface TlsServer {
  serving: Serving;
  logs: LogLine[];
  address: string;
  files: { cert: string; key: string; ca: string };
}

async function startTlsServer(name: string, extra: string[]): Promise<TlsServer> {
  const files = { ...writePair(name, await issuePair(ca, { dns: [SERVER_NAME], subject: `CN=${name}` })), ca: join(dir, `${name}-client-ca.crt`) };
  writeFileSync(files.ca, ca.pem);
  const logs: LogLine[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const serving = await serve(['--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--tls-cert', files.cert, '--tls-key', files.key, ...extra.map((arg) => arg.replace('$CA', files.ca))], {}, logger);
  return { serving, logs, address: `127.0.0.1:${serving.server.port}`, files };
}

type Credentials = { pair?: IssuedPair; trust?: string } | 'plaintext';

function clientFor(address: string, credentials: Credentials): { check(request: unknown): Promise<CheckResponseObject>; close(): void } {
  const loaded = grpc.loadPackageDefinition(upstreamDefinition()) as any;
  const Client = loaded.envoy.service.auth.v3.Authorization as grpc.ServiceClientConstructor;
  const channel =
    credentials === 'plaintext'
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(Buffer.from(credentials.trust ?? ca.pem), credentials.pair ? Buffer.from(credentials.pair.key) : null, credentials.pair ? Buffer.from(credentials.pair.cert) : null);
  const client = new Client(address, channel, { 'grpc.ssl_target_name_override': SERVER_NAME, 'grpc.default_authority': SERVER_NAME }) as any;
  return {
    check: (request) =>
      new Promise((resolve, reject) => {
        client.Check(request, { deadline: Date.now() + 5_000 }, (error: grpc.ServiceError | null, response: CheckResponseObject) => (error ? reject(error) : resolve(response)));
      }),
    close: () => client.close(),
  };
}

const ALLOWED_REQUEST = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' });

async function checkWith(address: string, credentials: Credentials): Promise<{ code: number; details?: string }> {
  const client = clientFor(address, credentials);
  try {
    const response = await client.check(ALLOWED_REQUEST);
    return { code: response.status?.code ?? 0 };
  } catch (error) {
    return { code: -(error as grpc.ServiceError).code, details: (error as grpc.ServiceError).details };
  } finally {
    client.close();
  }
}

/** The serial of the certificate a new TLS connection to `port` is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: SERVER_NAME, ca: ca.pem, ALPNProtocols: ['h2'] }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial.toLowerCase());
    });
    socket.on('error', reject);
  });
}

/** GET on the admin endpoint over TLS with a client certificate; the status, or the error code when refused. */
function adminGet(port: number, path: string, pair: IssuedPair | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const request = httpsRequest(
      { host: '127.0.0.1', port, path, servername: SERVER_NAME, ca: ca.pem, ...(pair ? { cert: pair.cert, key: pair.key } : {}), agent: false, timeout: 5_000 },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    request.end();
  });
}

beforeAll(async () => {
  dir = makeTempDir('meshwarden-tls-');
  [ca, otherCa] = await Promise.all([createCa('meshwarden test CA'), createCa('another CA')]);
});

describe('server TLS', () => {
  let server: TlsServer;
  beforeAll(async () => {
    server = await startTlsServer('server-tls', []);
  });
  afterAll(async () => {
    await server.serving.stop();
  });

  it('answers a grpc-js client that trusts the CA, and refuses a plaintext one', async () => {
    expect(await checkWith(server.address, {})).toEqual({ code: 0 });
    expect((await checkWith(server.address, 'plaintext')).code).toBe(-grpc.status.UNAVAILABLE);
  });

  it('serves the admin endpoint over TLS too', async () => {
    expect(await adminGet(server.serving.admin!.port, '/healthz', undefined)).toBe(200);
  });

  it('a start with an expired certificate is a configuration error', async () => {
    const expired = writePair('expired-server', await issuePair(ca, { dns: [SERVER_NAME], notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) }));
    await expect(serve(['--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--tls-cert', expired.cert, '--tls-key', expired.key], {}, createLogger('fatal'))).rejects.toThrow(ConfigError);
    await expect(serve(['--grpc-addr', '127.0.0.1:0', '--admin-addr', 'off', '--tls-cert', expired.cert, '--tls-key', expired.key], {}, createLogger('fatal'))).rejects.toThrow(/expired on/);
  });
});

describe('mutual TLS with a SPIFFE allow-list', () => {
  let server: TlsServer;
  const pairs: Record<string, IssuedPair> = {};
  beforeAll(async () => {
    server = await startTlsServer('mtls', ['--tls-client-ca', '$CA', '--tls-allowed-spiffe-ids', `${ENVOY},${INGRESS}`, '--http-addr', '127.0.0.1:0']);
    pairs['envoy'] = await issuePair(ca, { uris: [ENVOY] });
    pairs['ingress'] = await issuePair(ca, { uris: [INGRESS] });
    pairs['stranger'] = await issuePair(ca, { uris: ['spiffe://cluster.local/ns/default/sa/default'] });
    pairs['dnsOnly'] = await issuePair(ca, { dns: ['envoy.envoy.svc'] });
    pairs['twoUris'] = await issuePair(ca, { uris: [ENVOY, 'spiffe://cluster.local/ns/other/sa/other'] });
    pairs['notSpiffe'] = await issuePair(ca, { uris: ['https://envoy.example/'] });
    pairs['expired'] = await issuePair(ca, { uris: [ENVOY], notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
    pairs['otherCa'] = await issuePair(otherCa, { uris: [ENVOY] });
  }, 60_000);
  afterAll(async () => {
    await server.serving.stop();
  });

  it('answers the allowed SPIFFE IDs', async () => {
    expect(await checkWith(server.address, { pair: pairs['envoy']! })).toEqual({ code: 0 });
    expect(await checkWith(server.address, { pair: pairs['ingress']! })).toEqual({ code: 0 });
  });

  it('reads the client certificate once per connection, not per call (grpc-js keeps the session the cache keys on)', async () => {
    const reads = vi.spyOn(TLSSocket.prototype, 'getPeerCertificate');
    const client = clientFor(server.address, { pair: pairs['envoy']! });
    try {
      for (let call = 0; call < 5; call++) expect((await client.check(ALLOWED_REQUEST)).status?.code ?? 0).toBe(0);
      // Server-side sockets only (the client's own verification reads the server's certificate too).
      const serverReads = reads.mock.contexts.filter((socket) => (socket as { server?: unknown }).server !== undefined);
      expect(serverReads).toHaveLength(1);
    } finally {
      client.close();
      reads.mockRestore();
    }
  });

  const deniedCount = async (): Promise<number> => {
    const text = await server.serving.metrics.registry.metrics();
    return Number(/meshwarden_decisions_total\{[^}]*reason="caller_not_allowed"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it.each([
    ['an unauthorized SPIFFE ID', 'stranger', 'spiffe://cluster.local/ns/default/sa/default is not an allowed caller'],
    ['a DNS-SAN-only certificate', 'dnsOnly', 'has no URI SAN'],
    ['a certificate with two URI SANs', 'twoUris', 'has 2 URI SANs'],
    ['a URI SAN that is not a SPIFFE ID', 'notSpiffe', 'is not a SPIFFE ID'],
  ])('refuses %s on Check with a caller_not_allowed deny CheckResponse (never an RPC error), logged and counted', async (_what, name, reason) => {
    const counted = await deniedCount();
    const client = clientFor(server.address, { pair: pairs[name]! });
    let response: CheckResponseObject;
    try {
      response = await client.check(ALLOWED_REQUEST);
    } finally {
      client.close();
    }
    expect(response.status).toMatchObject({ code: 7 });
    expect(response.deniedResponse.status).toEqual({ code: 'Forbidden' });
    expect(response.deniedResponse.headers).toContainEqual(expect.objectContaining({ header: expect.objectContaining({ key: 'x-ext-authz-reason', value: 'caller_not_allowed' }) }));
    // The refusal's own text stays in the log: the caller learns only the reason code.
    expect(JSON.stringify(response)).not.toContain(reason);
    const refused = server.logs.filter((line) => line.msg === 'caller refused').at(-1)!;
    expect(refused).toMatchObject({ listener: 'gRPC', method: '/envoy.service.auth.v3.Authorization/Check' });
    expect(String(refused['reason'])).toContain(reason);
    const decision = server.logs.filter((line) => line.msg === 'decision').at(-1)!;
    expect(decision).toMatchObject({ allowed: false, reason: 'caller_not_allowed', decision_id: response.dynamicMetadata.fields.decision_id.stringValue });
    expect(String(decision['error'])).toContain(reason);
    expect(await deniedCount()).toBe(counted + 1);
  });

  it('answers a refused caller that stalls mid-message with the deny, then resets its stream (nothing of it is held)', async () => {
    const pair = pairs['stranger']!;
    const session = connectHttp2(`https://${server.address}`, { ca: ca.pem, cert: pair.cert, key: pair.key, servername: SERVER_NAME });
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
      stream.on('error', () => {});
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      let trailers: Record<string, unknown> = {};
      stream.on('trailers', (headers) => (trailers = headers));
      // A 1 MiB message announced, 1 KiB of it sent, and the client never ends its side.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(1024 * 1024, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(1024, 0x61)]));
      await new Promise<void>((resolve) => stream.once('close', () => resolve()));
      expect(trailers['grpc-status']).toBe('0');
      expect(Buffer.concat(chunks).toString('latin1')).toContain('caller_not_allowed');
      expect(stream.rstCode).toBe(0); // NO_ERROR: the server reset it, the client never ended it
    } finally {
      session.destroy();
    }
  });

  it('refuses them on health with UNAUTHENTICATED (no decision: health is not a Check)', async () => {
    const decisions = server.logs.filter((line) => line.msg === 'decision').length;
    const pair = pairs['stranger']!;
    const health = new grpc.Client(server.address, grpc.credentials.createSsl(Buffer.from(ca.pem), Buffer.from(pair.key), Buffer.from(pair.cert)), { 'grpc.ssl_target_name_override': SERVER_NAME });
    const code = await new Promise<number>((resolve) => {
      health.makeUnaryRequest('/grpc.health.v1.Health/Check', (value: Buffer) => value, (value: Buffer) => value, Buffer.alloc(0), { deadline: Date.now() + 5_000 }, (error) => resolve(error?.code ?? 0));
    });
    health.close();
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
    expect(server.logs.filter((line) => line.msg === 'decision')).toHaveLength(decisions);
  });

  it.each([
    ['no client certificate', undefined],
    ['an expired client certificate', 'expired'],
    ['a certificate of another CA', 'otherCa'],
  ])('refuses %s in the handshake', async (_what, name) => {
    const result = await checkWith(server.address, name === undefined ? {} : { pair: pairs[name]! });
    expect(result.code).toBe(-grpc.status.UNAVAILABLE);
  });

  it('holds the HTTP ext_authz and admin listeners to the same allow-list', async () => {
    const admin = server.serving.admin!.port;
    const http = server.serving.http!.port;
    expect(await adminGet(admin, '/healthz', pairs['envoy'])).toBe(200);
    expect(await adminGet(http, '/api/v1/data', pairs['envoy'])).toBe(403); // no identity headers: denied, but answered
    for (const port of [admin, http]) {
      expect(await adminGet(port, '/healthz', pairs['stranger'])).toBe('ECONNRESET');
      expect(typeof (await adminGet(port, '/healthz', undefined))).toBe('string');
    }
  });

  it('grpcurl with the allowed client certificate is answered; without one it is refused', async () => {
    const grpcurl = toolPath('grpcurl');
    const envoy = writePair('grpcurl-envoy', pairs['envoy']!);
    const common = ['-cacert', server.files.ca, '-servername', SERVER_NAME, '-max-time', '10'];
    const { stdout } = await run(grpcurl, [...common, '-cert', envoy.cert, '-key', envoy.key, server.address, 'grpc.health.v1.Health/Check']);
    expect(JSON.parse(stdout)).toEqual({ status: 'SERVING' });
    const refused = await run(grpcurl, [...common, server.address, 'grpc.health.v1.Health/Check']).then(
      () => 'answered',
      (error: { stderr: string }) => error.stderr,
    );
    expect(refused).not.toBe('answered');
    const stranger = writePair('grpcurl-stranger', pairs['stranger']!);
    const unauthorized = await run(grpcurl, [...common, '-cert', stranger.cert, '-key', stranger.key, server.address, 'grpc.health.v1.Health/Check']).then(
      () => 'answered',
      (error: { stderr: string }) => error.stderr,
    );
    expect(unauthorized).toContain('Unauthenticated');
  });
});

describe('certificate rotation', () => {
  let server: TlsServer;
  let envoy: IssuedPair;
  beforeAll(async () => {
    server = await startTlsServer('rotation', ['--tls-client-ca', '$CA', '--tls-allowed-spiffe-ids', ENVOY]);
    envoy = await issuePair(ca, { uris: [ENVOY] });
  });
  afterAll(async () => {
    await server.serving.stop();
  });

  const waitForLog = async (message: string, count: number): Promise<void> => {
    for (let i = 0; i < 100 && server.logs.filter((line) => line.msg === message).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.logs.filter((line) => line.msg === message).length).toBeGreaterThanOrEqual(count);
  };

  it('new connections get the new pair while calls under load keep succeeding; a bad new pair keeps the old one', async () => {
    const port = server.serving.server.port;
    const first = await servedSerial(port);
    const client = clientFor(server.address, { pair: envoy });
    let failures = 0;
    let calls = 0;
    let stop = false;
    // Eight callers in a loop on one channel, bounded by the flag and by a hard count.
    const load = Array.from({ length: 8 }, async () => {
      while (!stop && calls < 20_000) {
        calls++;
        const response = await client.check(ALLOWED_REQUEST).catch(() => undefined);
        if (response === undefined || (response.status?.code ?? 0) !== 0) failures++;
      }
    });
    const next = await issuePair(ca, { dns: [SERVER_NAME], subject: 'CN=rotated' });
    // Written as cert-manager does: new files renamed into place.
    writeFileSync(`${server.files.cert}.new`, next.cert);
    writeFileSync(`${server.files.key}.new`, next.key);
    renameSync(`${server.files.key}.new`, server.files.key);
    renameSync(`${server.files.cert}.new`, server.files.cert);
    await waitForLog('TLS certificate reloaded', 1);
    const rotated = await servedSerial(port);
    expect(rotated).not.toBe(first);
    // Compared as numbers: Node writes whole bytes (a leading 0 when the first is below 0x10).
    expect(BigInt(`0x${rotated}`)).toBe(BigInt(`0x${next.serial}`));
    // A new client, a new connection: served with the new pair.
    expect(await checkWith(server.address, { pair: envoy })).toEqual({ code: 0 });

    // A broken rotation: a key that is not the certificate's. The pair in force stays.
    const stray = await issuePair(ca, { dns: [SERVER_NAME] });
    writeFileSync(server.files.key, stray.key);
    await waitForLog('TLS certificate reload failed; the pair in force keeps serving', 1);
    expect(await servedSerial(port)).toBe(rotated);
    expect(await checkWith(server.address, { pair: envoy })).toEqual({ code: 0 });
    stop = true;
    await Promise.all(load);
    client.close();
    expect(calls).toBeGreaterThan(50);
    expect(failures).toBe(0);
    const metrics = await (await fetchAdmin(server, envoy)).valueOf();
    expect(metrics).toContain('meshwarden_tls_reloads_total{result="failure"} 1');
    expect(metrics).toMatch(/meshwarden_tls_reloads_total\{result="success"\} [2-9]/);
    expect(readFileSync(server.files.cert, 'utf8')).toBe(next.cert);
  });
});

/** The admin endpoint's /metrics text over mutual TLS. */
function fetchAdmin(server: TlsServer, pair: IssuedPair): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host: '127.0.0.1', port: server.serving.admin!.port, path: '/metrics', servername: SERVER_NAME, ca: ca.pem, cert: pair.cert, key: pair.key, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve(text));
    });
    request.on('error', reject);
    request.end();
  });
}
