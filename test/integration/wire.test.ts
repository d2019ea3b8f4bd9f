// Wire compatibility: bytes encoded with Envoy's upstream definitions (loaded here independently of the
// server's codec) arrive with every field intact, and the answer decodes with the same definitions.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORIZATION_PROTO, CHECK_METHOD_PATH, envoyProtoDirs } from '../../src/envoy/protos.js';
import { compileRego } from '../helpers/policies.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { structToJson } from '../helpers/struct.js';

const ECHO = 'package envoy.authz\nallow := {"allowed": true, "dynamic_metadata": {"attributes": input.attributes, "source_principal": input.source_principal}}\n';

let server: TestServer;
let root: protobuf.Root;

beforeAll(async () => {
  root = new protobuf.Root();
  root.resolvePath = (_origin, target) => envoyProtoDirs().map((dir) => join(dir, target)).find((path) => existsSync(path)) ?? target;
  root.loadSync(AUTHORIZATION_PROTO, { keepCase: true });
  server = await startTestServer(['--bundle', compileRego(ECHO)]);
});

afterAll(async () => {
  await server.stop();
});

/** Sends raw bytes to Check and returns raw bytes back. */
function callRaw(address: string, request: Uint8Array): Promise<Buffer> {
  const Client = grpc.makeGenericClientConstructor(
    {
      Check: {
        path: CHECK_METHOD_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (value: Buffer) => value,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (value: Buffer) => value,
      },
    },
    'Authorization',
  );
  const client = new Client(address, grpc.credentials.createInsecure()) as any;
  return new Promise((resolve, reject) => {
    client.Check(Buffer.from(request), (error: Error | null, response: Buffer) => {
      client.close();
      if (error) reject(error);
      else resolve(response);
    });
  });
}


const CERT = '-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A';

describe('wire compatibility with the upstream Envoy definitions', () => {
  it('every AttributeContext field arrives intact, rendered as opa-envoy-plugin renders it', async () => {
    const CheckRequest = root.lookupType('envoy.service.auth.v3.CheckRequest');
    // protobufjs bundles the well-known types with camelCase field names whatever keepCase says.
    const Struct = root.lookupType('google.protobuf.Struct');
    const payload = Struct.fromObject({
      fields: {
        sub: { stringValue: 'alice' },
        n: { numberValue: 1.5 },
        ok: { boolValue: true },
        nothing: { nullValue: 0 },
        list: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'a' }] } },
        nested: { structValue: { fields: { a: { stringValue: 'b' } } } },
      },
    });
    const message = CheckRequest.fromObject({
      attributes: {
        source: {
          address: { socket_address: { address: '10.0.1.17', port_value: 41234 } },
          service: 'frontend',
          labels: { app: 'frontend' },
          principal: 'spiffe://cluster.local/ns/analytics/sa/analytics',
          certificate: CERT,
        },
        destination: {
          address: { socket_address: { protocol: 'UDP', address: '10.0.2.5', port_value: 8080 } },
          principal: 'spiffe://cluster.local/ns/data/sa/data',
        },
        request: {
          time: { seconds: 1795339800, nanos: 123456000 },
          http: {
            id: '8306245629211637762',
            method: 'POST',
            headers: { ':path': '/api/v1/data?x=1', 'content-type': 'text/plain' },
            path: '/api/v1/data?x=1',
            host: 'data.data.svc.cluster.local',
            scheme: 'https',
            query: 'q',
            fragment: 'f',
            size: 12345678901,
            protocol: 'HTTP/2',
            body: 'hello',
            raw_body: Buffer.from([0, 1, 2, 255]),
            header_map: { headers: [{ key: 'x-raw', raw_value: Buffer.from('v1') }] },
          },
        },
        context_extensions: { route: 'data-api' },
        metadata_context: { filter_metadata: { 'envoy.filters.http.jwt_authn': payload } },
        tls_session: { sni: 'data.example' },
        route_metadata_context: { filter_metadata: { 'envoy.filters.http.ext_authz': { fields: { team: { stringValue: 'data' } } } } },
      },
    });
    const response = await callRaw(server.address, CheckRequest.encode(message).finish());

    const CheckResponse = root.lookupType('envoy.service.auth.v3.CheckResponse');
    const decoded = CheckResponse.toObject(CheckResponse.decode(response), { longs: Number }) as any;
    expect(decoded.status?.code ?? 0).toBe(0);
    const metadata = structToJson(decoded.dynamic_metadata);
    expect(metadata.decision_id).toHaveLength(36);
    expect(metadata.source_principal).toBe('spiffe://cluster.local/ns/analytics/sa/analytics');
    expect(metadata.attributes).toEqual({
      source: {
        address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } },
        service: 'frontend',
        labels: { app: 'frontend' },
        principal: 'spiffe://cluster.local/ns/analytics/sa/analytics',
        certificate: CERT,
      },
      destination: {
        address: { socketAddress: { protocol: 1, address: '10.0.2.5', portValue: 8080 } },
        principal: 'spiffe://cluster.local/ns/data/sa/data',
      },
      request: {
        time: { seconds: 1795339800, nanos: 123456000 },
        http: {
          id: '8306245629211637762',
          method: 'POST',
          headers: { ':path': '/api/v1/data?x=1', 'content-type': 'text/plain' },
          path: '/api/v1/data?x=1',
          host: 'data.data.svc.cluster.local',
          scheme: 'https',
          query: 'q',
          fragment: 'f',
          size: 12345678901,
          protocol: 'HTTP/2',
          body: 'hello',
          rawBody: Buffer.from([0, 1, 2, 255]).toString('base64'),
          headerMap: { headers: [{ key: 'x-raw', rawValue: Buffer.from('v1').toString('base64') }] },
        },
      },
      contextExtensions: { route: 'data-api' },
      metadataContext: {
        filterMetadata: { 'envoy.filters.http.jwt_authn': { sub: 'alice', n: 1.5, ok: true, nothing: null, list: [1, 'a'], nested: { a: 'b' } } },
      },
      tlsSession: { sni: 'data.example' },
      routeMetadataContext: { filterMetadata: { 'envoy.filters.http.ext_authz': { team: 'data' } } },
    });
  });

  it('a deny decodes with the upstream definitions, with append and append_action set on every header', async () => {
    const denyServer = await startTestServer([
      '--bundle',
      compileRego('package envoy.authz\nallow := {"allowed": false, "http_status": 401, "body": "no", "headers": {"www-authenticate": "Bearer", "set-cookie": ["a=1", "b=2"]}}\n'),
    ]);
    try {
      const CheckRequest = root.lookupType('envoy.service.auth.v3.CheckRequest');
      const bytes = CheckRequest.encode(CheckRequest.fromObject({ attributes: { request: { http: { method: 'GET', path: '/' } } } })).finish();
      const CheckResponse = root.lookupType('envoy.service.auth.v3.CheckResponse');
      const decoded = CheckResponse.toObject(CheckResponse.decode(await callRaw(denyServer.address, bytes)), { enums: String }) as any;
      expect(decoded.status).toEqual({ code: 7 });
      expect(decoded.denied_response.status).toEqual({ code: 'Unauthorized' });
      expect(decoded.denied_response.body).toBe('no');
      expect(decoded.denied_response.headers).toEqual([
        { header: { key: 'www-authenticate', value: 'Bearer' }, append: { value: false }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'set-cookie', value: 'a=1' }, append: { value: false }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'set-cookie', value: 'b=2' }, append: { value: true }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
      ]);
    } finally {
      await denyServer.stop();
    }
  });
});
