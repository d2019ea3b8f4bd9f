// OpenTelemetry tracing against a real collector: Jaeger all-in-one (the pinned v1.75.0, OTLP/HTTP on 127.0.0.1),
// its query API read back for the spans, their parents (traceparent and b3 from the CheckRequest's headers) and
// their attributes; and a collector that is not there, which must not cost a single Check.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { makeTempDir } from '../helpers/temp.js';
import { toolPath } from '../helpers/tools.js';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
}

let jaeger: ChildProcess | undefined;
let queryBase: string;
let otlpEndpoint: string;

/** The spans Jaeger holds for a trace, polled until `count` are there (bounded: 30 s). */
async function spansOf(traceId: string, count: number): Promise<JaegerSpan[]> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const response = await fetch(`${queryBase}/api/traces/${traceId}`).catch(() => undefined);
    if (response?.ok) {
      const body = (await response.json()) as { data?: Array<{ spans: JaegerSpan[] }> };
      const spans = body.data?.[0]?.spans ?? [];
      if (spans.length >= count) return spans;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Jaeger has no ${count} span(s) of trace ${traceId}`);
}

const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((entry) => entry.key === key)?.value;

beforeAll(async () => {
  const binary = toolPath('jaeger');
  const dir = makeTempDir('meshwarden-jaeger-');
  const [otlp, query, queryGrpc] = [await freePort(), await freePort(), await freePort()];
  otlpEndpoint = `http://127.0.0.1:${otlp}/v1/traces`;
  queryBase = `http://127.0.0.1:${query}`;
  const config = join(dir, 'jaeger.yaml');
  // All-in-one with in-memory storage, every port on 127.0.0.1 and chosen here (several engineers share the host).
  writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${query}
    grpc:
      endpoint: 127.0.0.1:${queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  jaeger = spawn(binary, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  jaeger.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`${queryBase}/api/services`).then((response) => response.ok, () => false);
    if (ready) break;
    if (attempt > 300 || jaeger.exitCode !== null) throw new Error(`Jaeger did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 900_000);

afterAll(async () => {
  if (jaeger !== undefined && jaeger.exitCode === null) {
    jaeger.kill('SIGTERM');
    await once(jaeger, 'exit');
  }
});

describe('with an OTLP endpoint', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(['--otlp-traces-endpoint', otlpEndpoint]);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('sends one span per Check, a child of the traceparent span, with the decision as attributes and no secrets', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const response = await server.client.check(
      httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data', headers: { traceparent: `00-${traceId}-${parent}-01`, authorization: 'Bearer very-secret-token' } }),
    );
    expect(response.status?.code ?? 0).toBe(0);
    const [span, ...others] = await spansOf(traceId, 1);
    expect(others).toEqual([]);
    expect(span!.operationName).toBe('envoy.service.auth.v3.Authorization/Check');
    expect(span!.references).toEqual([expect.objectContaining({ refType: 'CHILD_OF', traceID: traceId, spanID: parent })]);
    const decision = server.logs.filter((line) => line.msg === 'decision').at(-1)!;
    expect({ decision: tag(span!, 'meshwarden.decision'), reason: tag(span!, 'meshwarden.reason'), rule: tag(span!, 'meshwarden.rule'), id: tag(span!, 'meshwarden.decision_id') }).toEqual({
      decision: 'allow',
      reason: 'allowed',
      rule: 'analytics-reads-data',
      id: decision['decision_id'],
    });
    expect(JSON.stringify(span)).not.toContain('very-secret-token');
  });

  it('follows a b3 header too, and marks a deny with its reason', async () => {
    const traceId = '80f198ee56343ba864fe8b2a57d3eff7';
    const parent = 'e457b5a2e4d86bd1';
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data', headers: { b3: `${traceId}-${parent}-1` } }));
    const [span] = await spansOf(traceId, 1);
    expect(span!.references).toEqual([expect.objectContaining({ refType: 'CHILD_OF', spanID: parent })]);
    expect(tag(span!, 'meshwarden.decision')).toBe('deny');
    expect(tag(span!, 'meshwarden.reason')).toBe('no_allow_rule_matched');
  });
});

describe('with a collector that is not there', () => {
  it('answers every Check all the same', async () => {
    const server = await startTestServer(['--otlp-traces-endpoint', `http://127.0.0.1:${await freePort()}/v1/traces`]);
    try {
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data', headers: { traceparent: `00-${(i + 1).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01` } })),
        ),
      );
      expect(answers.filter((answer) => (answer.status?.code ?? 0) === 0)).toHaveLength(200);
    } finally {
      await server.stop();
    }
  });
});
