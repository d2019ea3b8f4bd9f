// Decision logs uploaded to a receiver on 127.0.0.1 that checks OPA's wire format (POST, JSON, gzip, bodies
// within upload_size_limit_bytes): every decision arrives once, masked and dropped by the bundle's
// system/log policies, retried after a failed upload, and every loss is counted.
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../helpers/policies.js';
import { httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

const POLICY = {
  'authz.rego': `package envoy.authz
default allow := false
allow if input.attributes.request.http.method == "GET"
`,
  'log.rego': `package system.log
mask contains "/input/attributes/request/http/headers/authorization"
mask contains {"op": "upsert", "path": "/input/attributes/source/address", "value": "[masked]"}
drop if input.input.attributes.request.http.path == "/healthz"
`,
};

interface Upload {
  path: string;
  method: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  bytes: number;
  events: Record<string, any>[];
}

/** A decision log receiver: records each upload after checking it decodes; answers `status()` (200 by default). */
async function startReceiver(status: () => number = () => 200): Promise<{ server: Server; url: string; uploads: Upload[]; problems: string[] }> {
  const uploads: Upload[] = [];
  const problems: string[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const code = status();
      if (code === 200) {
        try {
          const events = JSON.parse(gunzipSync(body).toString('utf8')) as Record<string, any>[];
          if (!Array.isArray(events)) throw new Error('not an array');
          uploads.push({ path: request.url ?? '', method: request.method ?? '', contentType: request.headers['content-type'], contentEncoding: request.headers['content-encoding'], bytes: body.length, events });
        } catch (error) {
          problems.push(String(error));
        }
      }
      response.writeHead(code).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, uploads, problems };
}

const dir = mkdtempSync(join(tmpdir(), 'meshwarden-decision-logs-'));
const bundleFile = join(dir, 'bundle.tar.gz');
writeFileSync(bundleFile, buildBundle({ files: POLICY, extraArgs: ['-e', 'system/log/mask', '-e', 'system/log/drop'], revision: 'r7' }));

function writeConfig(name: string, reporting: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `services:
  logs:
    url: \${RECEIVER_URL}
labels:
  app: checkout
decision_logs:
  service: logs
  reporting:
${reporting}
`,
  );
  return file;
}

async function metricsOf(server: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
}

function counted(metrics: string, result: string): number {
  return Number(new RegExp(`meshwarden_decision_log_events_total\\{result="${result}"\\} (\\d+)`).exec(metrics)?.[1] ?? Number.NaN);
}

describe('decision logs to a receiver', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let server: TestServer;
  let failNext = 0;

  beforeAll(async () => {
    receiver = await startReceiver(() => (failNext-- > 0 ? 500 : 200));
    const config = writeConfig('config.yaml', '    min_delay_seconds: 1\n    max_delay_seconds: 1\n    upload_size_limit_bytes: 3000');
    server = await startTestServer(['--config-file', config, '--bundle', bundleFile], { RECEIVER_URL: receiver.url });
  });

  afterAll(async () => {
    await server?.stop();
    receiver?.server.close();
  });

  it('uploads every decision once, gzip JSON in bodies within upload_size_limit_bytes, masked and dropped as the policy says', async () => {
    const calls = 120;
    for (let index = 0; index < calls; index++) {
      await server.client.check(
        httpCheckRequest({ method: index % 3 === 0 ? 'POST' : 'GET', path: index % 10 === 0 ? '/healthz' : `/items/${index}`, headers: { authorization: 'Bearer secret-token' } }),
      );
    }
    const logged = server.logs.filter((line) => line.msg === 'decision');
    const expected = new Set(logged.filter((line) => line['path'] !== '/healthz').map((line) => String(line['decision_id'])));
    expect(expected.size).toBe(calls - calls / 10);
    await server.serving.decisionLogs!.flush();
    const events = receiver.uploads.flatMap((upload) => upload.events);
    expect(receiver.problems).toEqual([]);
    expect(events.map((event) => event['decision_id']).sort()).toEqual([...expected].sort());
    expect(receiver.uploads.length).toBeGreaterThan(1);
    for (const upload of receiver.uploads) {
      expect(upload).toMatchObject({ method: 'POST', path: '/logs', contentType: 'application/json', contentEncoding: 'gzip' });
      expect(upload.bytes).toBeLessThanOrEqual(3000);
    }
    const denied = events.find((event) => event['input'].attributes.request.http.method === 'POST')!;
    expect(denied).toMatchObject({
      labels: { app: 'checkout', id: expect.any(String), version: expect.stringMatching(/^meshwarden-/) },
      path: 'envoy/authz/allow',
      result: false,
      bundles: {},
      erased: ['/input/attributes/request/http/headers/authorization'],
      masked: ['/input/attributes/source/address'],
      custom: { meshwarden: { reason: 'policy_denied', allowed: false } },
    });
    expect(new Date(denied['timestamp']).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(denied['input'].attributes.request.http.headers.authorization).toBeUndefined();
    expect(denied['input'].attributes.source.address).toBe('[masked]');
    const metrics = await metricsOf(server);
    expect(counted(metrics, 'buffered')).toBe(calls);
    expect(counted(metrics, 'uploaded')).toBe(expected.size);
    expect(counted(metrics, 'dropped_by_policy')).toBe(calls / 10);
  });

  it('keeps the events of a failed upload and sends them with the next one, counting both', async () => {
    const before = receiver.uploads.length;
    const metricsBefore = await metricsOf(server);
    failNext = 100; // every upload of the first flush fails
    for (let index = 0; index < 5; index++) await server.client.check(httpCheckRequest({ path: `/retry/${index}` }));
    expect(await server.serving.decisionLogs!.flush()).toBe(false);
    expect(server.serving.decisionLogs!.pending).toBe(5);
    failNext = 0;
    expect(await server.serving.decisionLogs!.flush()).toBe(true);
    const received = receiver.uploads.slice(before).flatMap((upload) => upload.events.map((event) => event['input'].attributes.request.http.path));
    expect(received.sort()).toEqual(['/retry/0', '/retry/1', '/retry/2', '/retry/3', '/retry/4']);
    const metrics = await metricsOf(server);
    // The periodic upload may have tried (and failed) once more before the manual flush: at least once each.
    expect(counted(metrics, 'upload_failed') - counted(metricsBefore, 'upload_failed')).toBeGreaterThanOrEqual(5);
    expect(counted(metrics, 'retried') - counted(metricsBefore, 'retried')).toBe(5);
  });
});

describe('a bundle without mask or drop rules', () => {
  it('uploads the input as the policy saw it, untouched', async () => {
    const receiver = await startReceiver();
    const plain = join(dir, 'plain.tar.gz');
    writeFileSync(plain, buildBundle({ files: { 'authz.rego': POLICY['authz.rego'] } }));
    const config = writeConfig('plain.yaml', '    min_delay_seconds: 600\n    max_delay_seconds: 600');
    const server = await startTestServer(['--config-file', config, '--bundle', plain], { RECEIVER_URL: receiver.url });
    try {
      const request = httpCheckRequest({ path: '/plain', headers: { authorization: 'Bearer kept' } });
      await server.client.check(request);
      await server.serving.decisionLogs!.flush();
      const [event] = receiver.uploads.flatMap((upload) => upload.events);
      expect(event!['erased']).toBeUndefined();
      expect(event!['input'].attributes.request.http).toMatchObject({ path: '/plain', headers: { authorization: 'Bearer kept' } });
      expect(event).toMatchObject({ result: true, path: 'envoy/authz/allow', custom: { meshwarden: { reason: 'allowed', allowed: true } } });
    } finally {
      await server.stop();
      receiver.server.close();
    }
  });
});

describe('a full buffer', () => {
  it('drops the oldest events and counts them (buffer_type: event)', async () => {
    const receiver = await startReceiver();
    const config = writeConfig('small.yaml', '    min_delay_seconds: 600\n    max_delay_seconds: 600\n    buffer_type: event\n    buffer_size_limit_events: 4');
    const server = await startTestServer(['--config-file', config, '--bundle', bundleFile], { RECEIVER_URL: receiver.url });
    try {
      for (let index = 0; index < 10; index++) await server.client.check(httpCheckRequest({ path: `/full/${index}` }));
      await server.serving.decisionLogs!.flush();
      const paths = receiver.uploads.flatMap((upload) => upload.events.map((event) => event['input'].attributes.request.http.path));
      expect(paths).toEqual(['/full/6', '/full/7', '/full/8', '/full/9']);
      expect(counted(await metricsOf(server), 'dropped_buffer_full')).toBe(6);
    } finally {
      await server.stop();
      receiver.server.close();
    }
  });
});

describe('limits that drop events', () => {
  it.each([
    ['max_decisions_per_second', '    max_decisions_per_second: 1', 'dropped_rate_limit', 9],
    ['an upload_size_limit_bytes no event fits in', '    upload_size_limit_bytes: 90', 'dropped_too_large', 10],
  ])('%s: the events are dropped and counted', async (_name, reporting, result, dropped) => {
    const receiver = await startReceiver();
    const config = writeConfig(`${result}.yaml`, `    min_delay_seconds: 600\n    max_delay_seconds: 600\n${reporting}`);
    const server = await startTestServer(['--config-file', config, '--bundle', bundleFile], { RECEIVER_URL: receiver.url });
    try {
      for (let index = 0; index < 10; index++) await server.client.check(httpCheckRequest({ path: `/limit/${index}` }));
      await server.serving.decisionLogs!.flush();
      const metrics = await metricsOf(server);
      // The rate limit lets the first event through (and maybe one more if the calls took a second).
      expect(counted(metrics, result)).toBeGreaterThanOrEqual(dropped - (result === 'dropped_rate_limit' ? 1 : 0));
      expect(counted(metrics, 'uploaded') + counted(metrics, result)).toBe(10);
      expect(receiver.uploads.flatMap((upload) => upload.events).length).toBe(counted(metrics, 'uploaded'));
    } finally {
      await server.stop();
      receiver.server.close();
    }
  });
});
