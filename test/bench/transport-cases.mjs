// What the TLS, mutual-TLS and tracing cases of check-bench.mjs need besides a server: certificates made here
// (a CA, the server's pair, the allowed caller's SPIFFE pair; @peculiar/x509 on node:crypto, as the tests' helpers
// make theirs), the client side of each transport for ghz, grpcurl and the health probe, and a trace collector:
// Jaeger all-in-one from .tools/bin when it is installed (scripts/tools.mjs jaeger), else an OTLP/HTTP sink
// that answers every export, so tracing is always measured exporting to something that takes the spans.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it
import { webcrypto } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as x509 from '@peculiar/x509';
import { HOST, ROOT, freePort, sleep, startChild } from './harness.mjs';

x509.cryptoProvider.set(webcrypto);

export const SERVER_NAME = 'meshwarden.bench';
export const CALLER_ID = 'spiffe://cluster.local/ns/envoy/sa/envoy';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function keyPem(keys) {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g).join('\n')}\n-----END PRIVATE KEY-----\n`;
}

async function issue(ca, names) {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Math.floor(Math.random() * 1e9).toString(16).padStart(8, '0'),
    subject: '',
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.SubjectAlternativeNameExtension(names, true)],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys) };
}

/** Writes the CA, the server pair (DNS SERVER_NAME) and the caller's pair (URI CALLER_ID) into `dir`; their paths. */
export async function writeBenchCertificates(dir) {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=meshwarden bench CA', notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 24 * 3600_000),
    keys, signingAlgorithm: ALGORITHM, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const ca = { cert, keys };
  const files = {};
  const write = (name, text) => {
    files[name] = join(dir, `${name}.pem`);
    writeFileSync(files[name], text);
  };
  write('ca', cert.toString('pem'));
  const server = await issue(ca, [{ type: 'dns', value: SERVER_NAME }]);
  write('serverCert', server.cert);
  write('serverKey', server.key);
  const client = await issue(ca, [{ type: 'url', value: CALLER_ID }]);
  write('clientCert', client.cert);
  write('clientKey', client.key);
  return files;
}

/** serve flags: TLS with the server pair; `mutual` adds the client CA and the one allowed caller. */
export function tlsServeArgs(files, { mutual }) {
  const args = ['--tls-cert', files.serverCert, '--tls-key', files.serverKey];
  return mutual ? [...args, '--tls-client-ca', files.ca, '--tls-allowed-spiffe-ids', CALLER_ID] : args;
}

/** The client side of TLS for ghz, grpcurl and the health probe (the harness's `transport`); `mutual` presents the caller's pair. */
export function tlsTransport(files, { mutual }) {
  const pair = mutual ? ['--cert', files.clientCert, '--key', files.clientKey] : [];
  return {
    ghz: ['--cacert', files.ca, '--cname', SERVER_NAME, ...pair],
    grpcurl: ['-cacert', files.ca, '-servername', SERVER_NAME, ...(mutual ? ['-cert', files.clientCert, '-key', files.clientKey] : [])],
    credentials: grpc.credentials.createSsl(readFileSync(files.ca), mutual ? readFileSync(files.clientKey) : null, mutual ? readFileSync(files.clientCert) : null),
    options: { 'grpc.ssl_target_name_override': SERVER_NAME, 'grpc.default_authority': SERVER_NAME },
  };
}

/**
 * A trace collector on 127.0.0.1: Jaeger all-in-one (in-memory storage) when .tools/bin/jaeger is there, else
 * an OTLP/HTTP sink that reads each export and answers 200. `received()` is what reached it (spans for Jaeger,
 * from its query API; export requests for the sink), so the run can show the spans were really exported.
 */
export async function startCollector(dir) {
  const jaeger = join(process.env.TOOLS_BIN_DIR ?? join(ROOT, '.tools', 'bin'), 'jaeger');
  const otlp = await freePort();
  if (existsSync(jaeger)) {
    const [query, queryGrpc] = [await freePort(), await freePort()];
    const config = join(dir, 'jaeger.yaml');
    writeFileSync(config, [
      'service:', '  extensions: [jaeger_storage, jaeger_query]', '  pipelines:', '    traces:', '      receivers: [otlp]', '      processors: [batch]',
      '      exporters: [jaeger_storage_exporter]', '  telemetry:', '    metrics:', '      level: none', '    logs:', '      level: warn',
      'extensions:', '  jaeger_query:', '    storage:', '      traces: memstore', '    http:', `      endpoint: ${HOST}:${query}`, '    grpc:', `      endpoint: ${HOST}:${queryGrpc}`,
      '  jaeger_storage:', '    backends:', '      memstore:', '        memory:', '          max_traces: 20000',
      'receivers:', '  otlp:', '    protocols:', '      http:', `        endpoint: ${HOST}:${otlp}`,
      'processors:', '  batch:', '    timeout: 200ms', 'exporters:', '  jaeger_storage_exporter:', '    trace_storage: memstore', '',
    ].join('\n'));
    // Unpinned: the collector is not the server measured; its CPU is not counted in the server's.
    const child = startChild('jaeger', ['--config', config], ['ignore', 'ignore', 'pipe'], { command: jaeger, pin: false });
    const base = `http://${HOST}:${query}`;
    for (let attempt = 0; !(await fetch(`${base}/api/services`).then((response) => response.ok, () => false)); attempt++) {
      if (attempt > 300 || child.exitCode !== null) throw new Error(`Jaeger did not start: ${child.stderrTail}`);
      await sleep(100);
    }
    return {
      name: 'Jaeger all-in-one',
      unit: 'spans of service meshwarden (its query returns at most 1,000 traces)',
      endpoint: `http://${HOST}:${otlp}/v1/traces`,
      async received() {
        const response = await fetch(`${base}/api/traces?service=meshwarden&limit=1000`);
        const body = await response.json();
        return (body.data ?? []).reduce((sum, trace) => sum + trace.spans.length, 0);
      },
      close: async () => {},
    };
  }
  let exports = 0;
  const sink = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/v1/traces') exports += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((resolve) => sink.listen(otlp, HOST, resolve));
  return {
    name: 'an OTLP/HTTP sink (Jaeger not installed: node scripts/tools.mjs jaeger)',
    unit: 'OTLP export requests',
    endpoint: `http://${HOST}:${otlp}/v1/traces`,
    received: async () => exports,
    close: () => new Promise((resolve) => sink.close(resolve)),
  };
}
