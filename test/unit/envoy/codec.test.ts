// src/envoy/codec.ts createCheckCodec: the wire ↔ objects step, rendered as opa-envoy-plugin's v3 `attributes` (reference §1.2).
import { describe, expect, it } from 'vitest';
import { createCheckCodec, restoreWideIntegers } from '../../../src/envoy/codec.js';
import { loadEnvoyApi, AUTHORIZATION_SERVICE } from '../../../src/envoy/protos.js';
import { responseTemplate, toCheckResponse, toFailureResponse } from '../../../src/check/response.js';
import { parseDecision } from '../../../src/check/decision.js';

// What the server sends when a response cannot be encoded (src/check/answer.ts hands it to the codec).
const fallbackResponse = (decisionId: string) => toFailureResponse('internal_error', decisionId);

const api = loadEnvoyApi();
const { CheckRequest } = api;
const encodeRequest = (object: Record<string, unknown>): Buffer => Buffer.from(CheckRequest.encode(CheckRequest.fromObject(object)).finish());
const ID = '0b7c3f7e-5d0a-4a57-9b43-2f1f5e0c9d11';

const struct = (fields: Record<string, unknown>): unknown => ({ fields });

/** A CheckRequest as Envoy fills it (only populated fields set), in protobufjs object form. */
const FULL_REQUEST = {
  attributes: {
    source: {
      address: { socketAddress: { protocol: 1, address: '10.0.1.17', portValue: 41234 } },
      principal: 'spiffe://cluster.local/ns/analytics/sa/analytics',
    },
    destination: {
      address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } },
      principal: 'spiffe://cluster.local/ns/data/sa/data',
    },
    request: {
      time: { seconds: 1605865667, nanos: 722473000 },
      http: {
        id: '8306245629211637762',
        method: 'POST',
        headers: { ':path': '/api?x=1', 'content-type': 'application/json' },
        path: '/api?x=1',
        host: 'data.svc:8080',
        scheme: 'https',
        size: 5000000000,
        protocol: 'HTTP/2',
        rawBody: Buffer.from('{"a":1}'),
        headerMap: { headers: [{ key: 'x-bin', rawValue: Buffer.from([0xff, 0x00, 0x41]) }] },
      },
    },
    contextExtensions: { route: 'r1' },
    metadataContext: {
      filterMetadata: {
        'envoy.filters.http.jwt_authn': struct({
          sub: { stringValue: 'alice' },
          n: { numberValue: 1 },
          big: { numberValue: 12345678901 },
          ok: { boolValue: true },
          none: { nullValue: 0 },
          list: { listValue: { values: [{ numberValue: 1.5 }, { stringValue: 'a' }, { listValue: { values: [] } }] } },
          obj: { structValue: struct({ k: { stringValue: 'v' }, inner: { structValue: struct({}) } }) },
        }),
        'istio_authn': struct({ principal: { stringValue: 'p' } }),
      },
    },
    routeMetadataContext: { filterMetadata: { route: struct({ weight: { numberValue: 2.5 } }) } },
    tlsSession: { sni: 'data.example.com' },
  },
};

describe('createCheckCodec: decode', () => {
  const codec = createCheckCodec(api, { maxRequestBytes: 4 * 1024 * 1024, fallbackResponse });

  it('renders attributes as plain JSON: camelCase, Struct as objects, int64 as numbers, bytes as base64, enums as numbers', () => {
    const wire = encodeRequest(FULL_REQUEST);
    const decoded = codec.decode(wire);
    expect(decoded).toEqual({
      kind: 'request',
      byteLength: wire.length,
      attributes: {
        source: {
          address: { socketAddress: { protocol: 1, address: '10.0.1.17', portValue: 41234 } },
          principal: 'spiffe://cluster.local/ns/analytics/sa/analytics',
        },
        destination: {
          address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } },
          principal: 'spiffe://cluster.local/ns/data/sa/data',
        },
        request: {
          time: { seconds: 1605865667, nanos: 722473000 },
          http: {
            id: '8306245629211637762',
            method: 'POST',
            headers: { ':path': '/api?x=1', 'content-type': 'application/json' },
            path: '/api?x=1',
            host: 'data.svc:8080',
            scheme: 'https',
            size: 5000000000,
            protocol: 'HTTP/2',
            rawBody: 'eyJhIjoxfQ==',
            headerMap: { headers: [{ key: 'x-bin', rawValue: '/wBB' }] },
          },
        },
        contextExtensions: { route: 'r1' },
        metadataContext: {
          filterMetadata: {
            'envoy.filters.http.jwt_authn': {
              sub: 'alice',
              n: 1,
              big: 12345678901,
              ok: true,
              none: null,
              list: [1.5, 'a', []],
              obj: { k: 'v', inner: {} },
            },
            istio_authn: { principal: 'p' },
          },
        },
        routeMetadataContext: { filterMetadata: { route: { weight: 2.5 } } },
        tlsSession: { sni: 'data.example.com' },
      },
    });
  });

  it('gives values JSON.stringify keeps as they are (no Long, Buffer or Struct wrappers)', () => {
    const decoded = codec.decode(encodeRequest(FULL_REQUEST));
    if (decoded.kind !== 'request') throw new Error(decoded.kind);
    const http = decoded.attributes!.request!.http!;
    expect(typeof http.size).toBe('number');
    expect(typeof http.rawBody).toBe('string');
    expect(typeof decoded.attributes!.source!.address!.socketAddress!['protocol']).toBe('number');
    const text = JSON.stringify(decoded.attributes);
    expect(text).toContain('"size":5000000000');
    expect(text).toContain('"rawBody":"eyJhIjoxfQ=="');
    expect(text).toContain('"envoy.filters.http.jwt_authn":{"sub":"alice","n":1,');
    expect(text).not.toContain('stringValue');
    expect(text).not.toContain('"fields"');
    expect(JSON.parse(text)).toEqual(decoded.attributes);
  });

  it('keeps every digit of 64-bit integers beyond 2^53 in the JSON text (opa-envoy-plugin renders them exactly)', () => {
    const wide = structuredClone(FULL_REQUEST) as typeof FULL_REQUEST;
    (wide.attributes.request.http as Record<string, unknown>)['size'] = '9007199254740993';
    (wide.attributes.request.time as Record<string, unknown>)['seconds'] = '-9223372036854775808';
    const decoded = codec.decode(encodeRequest(wide));
    if (decoded.kind !== 'request') throw new Error(decoded.kind);
    const text = restoreWideIntegers(decoded.attributes!, JSON.stringify(decoded.attributes));
    expect(text).toContain('"size":9007199254740993');
    expect(text).toContain('"time":{"seconds":-9223372036854775808,"nanos":722473000}');
    expect(text).not.toContain('\\u0000');
    // Integers a double holds stay numbers, untouched; a caller's look-alike of the marker stays a string.
    const plain = codec.decode(encodeRequest(FULL_REQUEST));
    if (plain.kind !== 'request') throw new Error(plain.kind);
    expect(restoreWideIntegers(plain.attributes!, JSON.stringify(plain.attributes))).toContain('"size":5000000000');
    const text2 = JSON.stringify({ a: '\u0000deadbeef:12' });
    expect(restoreWideIntegers(decoded.attributes!, text2)).toBe(text2);
  });

  it('renders google.protobuf.Any in typed filter metadata as {typeUrl, value}, as opa-envoy-plugin does', () => {
    const any = { type_url: 'type.googleapis.com/google.protobuf.StringValue', value: Buffer.from([0x0a, 0x02, 0x68, 0x69]) };
    const decoded = codec.decode(encodeRequest({ attributes: { metadataContext: { typedFilterMetadata: { 'envoy.filters.http.rbac': any } } } }));
    if (decoded.kind !== 'request') throw new Error(decoded.kind);
    expect(decoded.attributes!.metadataContext).toEqual({
      typedFilterMetadata: { 'envoy.filters.http.rbac': { typeUrl: 'type.googleapis.com/google.protobuf.StringValue', value: 'CgJoaQ==' } },
    });
  });

  it('omits absent fields (only populated fields appear)', () => {
    const decoded = codec.decode(encodeRequest({ attributes: { request: { http: { path: '/', method: 'GET' } } } }));
    expect(decoded).toMatchObject({ kind: 'request' });
    if (decoded.kind !== 'request') return;
    expect(decoded.attributes).toEqual({ request: { http: { path: '/', method: 'GET' } } });
    expect(JSON.stringify(decoded.attributes)).toBe('{"request":{"http":{"method":"GET","path":"/"}}}');
  });

  it.each<[string, Record<string, unknown>, unknown]>([
    ['a time with seconds only', { attributes: { request: { time: { seconds: 1 } } } }, { request: { time: { seconds: 1 } } }],
    ['a TCP socket address (enum 0 not sent)', { attributes: { source: { address: { socketAddress: { address: 'a', portValue: 1 } } } } }, {
      source: { address: { socketAddress: { address: 'a', portValue: 1 } } },
    }],
    ['a pipe address', { attributes: { source: { address: { pipe: { path: '/run/sock' } } } } }, { source: { address: { pipe: { path: '/run/sock' } } } }],
    ['an empty Struct', { attributes: { metadataContext: { filterMetadata: { a: struct({}) } } } }, { metadataContext: { filterMetadata: { a: {} } } }],
    ['metadata without filter metadata', { attributes: { metadataContext: {} } }, { metadataContext: {} }],
    ['an empty attributes message', { attributes: {} }, {}],
  ])('%s', (_name, object, attributes) => {
    const decoded = codec.decode(encodeRequest(object));
    expect(decoded).toMatchObject({ kind: 'request' });
    if (decoded.kind === 'request') expect(decoded.attributes).toEqual(attributes);
  });

  it('leaves out proto3 zero values a client wrote explicitly (as Envoy never sends them)', () => {
    const withZeros = encodeRequest({
      attributes: {
        source: { address: { socketAddress: { protocol: 0, address: '', portValue: 0 } }, principal: '' },
        request: { time: { seconds: 5, nanos: 0 }, http: { path: '/', body: '', size: 0, rawBody: Buffer.alloc(0), headers: { a: '' } } },
      },
    });
    const decoded = codec.decode(withZeros);
    expect(decoded).toMatchObject({ kind: 'request' });
    if (decoded.kind !== 'request') return;
    // portValue is a oneof member, so an explicit 0 is kept; map entries are kept whatever their value
    expect(decoded.attributes).toEqual({
      source: { address: { socketAddress: { portValue: 0 } } },
      request: { time: { seconds: 5 }, http: { path: '/', headers: { a: '' } } },
    });
  });

  it('decodes an empty message as a request without attributes', () => {
    expect(codec.decode(Buffer.alloc(0))).toEqual({ kind: 'request', attributes: undefined, byteLength: 0 });
  });

  it.each<[string, number[]]>([
    ['an invalid wire type (unknown field 2, wire type 7)', [0x17, 0x00]],
    ['a length beyond the end', [0x0a, 0x05, 0x01]],
    ['a truncated nested message', [0x0a, 0x02, 0x22, 0x10]],
    ['a truncated varint', [0x08, 0xff]],
  ])('rejects %s as malformed_request (the wire check, before protobufjs), without throwing', (_name, bytes) => {
    const buffer = Buffer.from(bytes);
    const decoded = codec.decode(buffer);
    expect(decoded.kind).toBe('rejected');
    expect(decoded.byteLength).toBe(buffer.length);
    if (decoded.kind === 'rejected') {
      expect(decoded.reason).toBe('malformed_request');
      expect(decoded.error).toMatch(/^malformed CheckRequest: /);
    }
  });

  it('reports a message over the limit as too_large without decoding it', () => {
    const small = createCheckCodec(api, { maxRequestBytes: 16, fallbackResponse });
    const garbage = Buffer.alloc(17, 0xff);
    expect(small.decode(garbage)).toEqual({ kind: 'too_large', byteLength: 17 });
    const wire = encodeRequest({ attributes: { request: { http: { path: '/'.repeat(100) } } } });
    expect(small.decode(wire)).toEqual({ kind: 'too_large', byteLength: wire.length });
  });

  it('decodes a message exactly at the limit', () => {
    const wire = encodeRequest({ attributes: { request: { http: { path: '/abc' } } } });
    const exact = createCheckCodec(api, { maxRequestBytes: wire.length, fallbackResponse });
    expect(exact.decode(wire)).toEqual({ kind: 'request', attributes: { request: { http: { path: '/abc' } } }, byteLength: wire.length });
    expect(createCheckCodec(api, { maxRequestBytes: wire.length - 1, fallbackResponse }).decode(wire)).toEqual({ kind: 'too_large', byteLength: wire.length });
  });
});

describe('createCheckCodec: encode', () => {
  const codec = createCheckCodec(api, { maxRequestBytes: 1024, fallbackResponse });
  // Read back with proto-loader's deserializer: what a grpc-js client of the Authorization service sees.
  const service = api.packageDefinition[AUTHORIZATION_SERVICE] as unknown as Record<string, { responseDeserialize(buffer: Buffer): any }>;
  const readBack = (buffer: Buffer): any => service['Check']!.responseDeserialize(buffer);

  it('encodes an allow with header options, removals and metadata', () => {
    const decision = parseDecision(
      [{ result: { allowed: true, headers: { 'x-user': ['a', 'b'] }, request_headers_to_remove: ['cookie'], dynamic_metadata: { n: 1 } } }],
      api.envoyStatusCodes,
    );
    const response = readBack(codec.encode(toCheckResponse(decision, ID)));
    expect(response.status).toEqual({ code: 0 });
    expect(response.okResponse.headers).toEqual([
      { header: { key: 'x-user', value: 'a' }, append: { value: false }, appendAction: 2 },
      { header: { key: 'x-user', value: 'b' }, append: { value: true }, appendAction: 0 },
    ]);
    expect(response.okResponse.headersToRemove).toEqual(['cookie']);
    expect(response.deniedResponse).toBeUndefined();
    expect(response.dynamicMetadata).toEqual({ fields: { n: { numberValue: 1 }, decision_id: { stringValue: ID } } });
  });

  it('encodes a failure deny with its reason', () => {
    const response = readBack(codec.encode(toFailureResponse('request_parse_error', ID)));
    expect(response).toEqual({
      status: { code: 7, message: 'request_parse_error' },
      deniedResponse: {
        status: { code: 400 },
        headers: [{ header: { key: 'x-ext-authz-reason', value: 'request_parse_error' }, append: { value: false }, appendAction: 2 }],
        body: 'request_parse_error',
      },
      dynamicMetadata: { fields: { decision_id: { stringValue: ID }, reason: { stringValue: 'request_parse_error' } } },
    });
  });

  // Templated: the decision's response encoded once, the decision_id added per call (what the gRPC handler sends).
  const results: [string, unknown, boolean][] = [
    ['a boolean allow', true, false],
    ['a boolean deny', false, false],
    ['a boolean deny in shadow mode', false, true],
    ['the rules library allow', { allowed: true, dynamic_metadata: { rule: 'analytics-reads-data', reason: 'allowed_by_rule', shadow_denies: [] } }, false],
    ['a deny with status, headers, body', { allowed: false, http_status: 429, headers: { 'x-ext-authz-reason': 'rate', 'x-two': ['a', 'b'] }, body: 'slow down ✋', dynamic_metadata: { nested: { list: [1, 'two', null, true, { deep: [] }] } } }, false],
    ['an allow with every mutation', { allowed: true, headers: { 'x-user': 'u' }, response_headers_to_add: { 'x-r': 'r' }, request_headers_to_remove: ['cookie'], query_parameters_to_set: { a: 'b' }, query_parameters_to_remove: ['c'] }, false],
    ['metadata keyed __proto__ and constructor', { allowed: true, dynamic_metadata: JSON.parse('{"__proto__":{"a":1},"constructor":"c"}') as unknown }, false],
    ['a deny let pass by shadow mode', { allowed: false, dynamic_metadata: { rule: 'default' } }, true],
  ];

  it.each(results)('encodes %s from its template to the same bytes as the whole response', (_name, result, shadow) => {
    const decision = parseDecision([{ result }], api.envoyStatusCodes);
    const template = responseTemplate(decision, shadow);
    for (const id of [ID, '7f1c2b3a-0000-4000-8000-000000000000', 'x'.repeat(200)]) {
      const templated = codec.encode({ template, decisionId: id });
      expect(templated.equals(codec.encode(toCheckResponse(decision, id, shadow))), id).toBe(true);
      expect(readBack(templated).dynamicMetadata.fields.decision_id).toEqual({ stringValue: id });
    }
  });

  it("puts the call's decision_id over a decision_id of the policy's metadata, as the whole response does", () => {
    const decision = parseDecision([{ result: { allowed: true, dynamic_metadata: { decision_id: 'from-policy', rule: 'r' } } }], api.envoyStatusCodes);
    const template = responseTemplate(decision);
    expect(readBack(codec.encode({ template, decisionId: ID }))).toEqual(readBack(codec.encode(toCheckResponse(decision, ID))));
    expect(readBack(codec.encode({ template, decisionId: ID })).dynamicMetadata.fields).toEqual({ decision_id: { stringValue: ID }, rule: { stringValue: 'r' } });
  });

  it('never throws: a response it cannot encode goes out as an internal_error deny with its decision id', () => {
    const failures: unknown[] = [];
    const guarded = createCheckCodec(api, { maxRequestBytes: 1024, fallbackResponse, onEncodeFailure: (error) => failures.push(error) });
    const broken = [
      { template: {} as never, decisionId: ID },
      {
        status: {
          get code(): number {
            throw new Error('unreadable');
          },
        },
        dynamicMetadata: { fields: { decision_id: { stringValue: ID } } },
      } as never,
    ];
    for (const response of broken) {
      expect(readBack(guarded.encode(response))).toEqual(readBack(codec.encode(toFailureResponse('internal_error', ID))));
    }
    expect(failures).toHaveLength(2);
  });

  it('encodes a boolean allow as status 0 with no http response', () => {
    const response = readBack(codec.encode(toCheckResponse(parseDecision([{ result: true }], api.envoyStatusCodes), ID)));
    expect(response.status).toEqual({ code: 0 });
    expect(response.okResponse).toBeUndefined();
    expect(response.deniedResponse).toBeUndefined();
    expect(response.dynamicMetadata.fields.decision_id).toEqual({ stringValue: ID });
  });
});
